"""Bad desired state stops the run before the first operation, naming host, key and value."""

from .conftest import HOSTS, SNAPSHOT, pyinfra, ssh



def test_invalid_data_stops_the_run_and_changes_no_host():
    before = {h: ssh(h, SNAPSHOT) for h in HOSTS}
    res = pyinfra(host_data={
        # host-side problems: a flag the unit already passes, a profile the parser rejects
        "lab1": {"docker": {"daemon": {"hosts": ["tcp://127.0.0.1:2375"]}},
                 # words of the grammar, a combination both parsers reject (protocols are inet's)
                 "apparmor": {"network_rules": [{"access": "allow", "family": "unix", "type": "tcp"}]}},
        # schema problems: wrong type; live-restore on a swarm node
        "lab2": {"sysctl": {"settings": {"net.core.somaxconn": "lots"}},
                 "docker": {"daemon": {"live-restore": True, "live-restorez": True}}},
        # on Debian 12 (AppArmor 3.0) the parser rejects it too
        "lab3": {"apparmor": {"network_rules": [{"access": "allow", "family": "unix", "type": "tcp"}]}},
    })
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "no host was changed" in out
    assert "lab1: docker.daemon.hosts = ['tcp://127.0.0.1:2375']: the docker service already passes -H" in out
    assert "lab1: apparmor = " in out and "apparmor_parser rejects the rendered profile" in out
    assert "lab2: sysctl.settings.net.core.somaxconn = 'lots': expected an integer" in out
    assert "lab2: docker.daemon.live-restore = True: dockerd refuses to start with live-restore in swarm mode" in out
    assert "lab2: docker.daemon.live-restorez = True: unknown key; did you mean 'live-restore'?" in out
    assert "lab3: apparmor = " in out and out.count("apparmor_parser rejects the rendered profile") == 2
    assert "Starting operation" not in out
    assert {h: ssh(h, SNAPSHOT) for h in before} == before


def test_broken_value_in_group_data_stops_the_run(tmp_path):
    (tmp_path / "standalone.py").write_text('docker = {"daemon": {"icc": "no"}}\n')
    before = {h: ssh(h, SNAPSHOT) for h in HOSTS}
    res = pyinfra("--group-data", str(tmp_path))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "lab3: docker.daemon.icc = 'no': expected true or false" in out
    assert "Starting operation" not in out
    assert {h: ssh(h, SNAPSHOT) for h in HOSTS} == before
