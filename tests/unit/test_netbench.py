"""The network benchmark: which modes a pair of hosts can run and the commands for them (every
object labelled), the opt-in refusal, and the figures (medians, spread, ratios to host mode)."""

import pytest

from dockwright.netbench import modes as M
from dockwright.netbench import report

from .helpers import group_data

SUBNETS = group_data("all")["netbench"]["subnets"]
A = M.Host("lab1", "10.99.0.11", "dockwright-probe:x", "10.99.0.111", "eth1", True)
B = M.Host("lab2", "10.99.0.12", "dockwright-probe:x", "10.99.0.112", "eth1", False)


def test_every_mode_when_the_pair_allows_it_and_every_object_labelled():
    chosen, left = M.modes(A, B, SUBNETS, "10.99.0.0/24", swarm=True)
    assert [m.name for m in chosen] == list(M.ORDER) and left == {}
    for m in chosen:
        assert f"--label {M.LABEL}" in m.server and all(f"--label {M.LABEL}" in c for c in m.setup.values())
        assert f"--label {M.LABEL}" in m.client("img", "stream:x:1:1")
    overlay = {m.name: m for m in chosen}["encrypted_overlay"]
    assert "--opt encrypted" in overlay.setup["A"] and list(overlay.setup) == ["A"]  # made on the manager
    mac = {m.name: m for m in chosen}["macvlan"]
    assert "--ip 10.99.0.112" in mac.server and mac.target == "10.99.0.112:5201" and "parent=eth1" in mac.setup["B"]


def test_modes_a_pair_cannot_run_are_left_out_with_the_reason():
    chosen, left = M.modes(A, B, SUBNETS, None, swarm=False)
    assert [m.name for m in chosen] == ["host", "bridge", "user_bridge"]
    assert set(left) == {"overlay", "encrypted_overlay", "macvlan", "ipvlan_l2"} and all(left.values())


def test_cleanup_removes_by_label_only():
    containers, networks = M.cleanup_commands()
    assert f"docker rm -f $(docker ps -aq --filter label={M.LABEL})" in containers
    assert f"docker network rm $(docker network ls -q --filter label={M.LABEL})" in networks


def test_ratios_are_medians_against_host_mode_of_the_same_run():
    rounds = []
    for r, (host, bridge) in enumerate([(1000, 900), (1100, 950), (900, 800)], 1):
        for mode, v in (("host", host), ("bridge", bridge)):
            rounds.append({"round": r, "mode": mode, "stream": {"mbit_s": v, "bytes": 1},
                           "rr": {"tps": 10, "p50_us": 100 if mode == "host" else 120, "p99_us": 200},
                           "crr": {"cps": 50, "p50_us": 1, "p99_us": 2}})
    s = report.summary(rounds)
    assert s["bridge"]["stream"]["mbit_s"] == {"median": 900, "min": 800, "max": 950, "n": 3}
    assert s["bridge"]["ratio"]["stream"]["median"] == pytest.approx(0.9)
    assert s["bridge"]["ratio"]["rr"]["median"] == pytest.approx(1.2)  # latency: above 1 is worse
    assert s["host"]["ratio"]["crr"]["median"] == 1.0


def test_probe_lines_parse_and_a_failure_is_kept_as_said():
    assert report.parse("rr", "1200.5 80 300") == {"tps": 1200.5, "p50_us": 80.0, "p99_us": 300.0}
    assert report.parse("stream", "ECONNREFUSED") == {"error": "ECONNREFUSED"}


def test_only_opted_in_hosts_are_loaded(tmp_path, monkeypatch):
    from dockwright.netbench import __main__ as nb
    inv = tmp_path / "inv.py"
    inv.write_text("hosts = [('h1', {}), ('h2', {})]\n")
    with pytest.raises(nb.Refused, match="h1: netbench.allowed = False"):
        nb.load(str(inv), ["h1", "h2"])


def test_every_container_is_bounded_and_every_server_listens_on_the_data_address_only():
    chosen, _ = M.modes(A, B, SUBNETS, "10.99.0.0/24", swarm=True)
    by = {m.name: m for m in chosen}
    for m in chosen:
        assert "--pids-limit " in m.server and "--memory " in m.server, m.name
        assert "--pids-limit " in m.client("img", "stream:x:1:1")
    assert by["host"].server.rstrip(" >/dev/null").endswith("bench 5201 7200 10.99.0.12")
    assert "-p 10.99.0.12:15202:5201" in by["bridge"].server and "-p 10.99.0.12:15203:5201" in by["user_bridge"].server
    assert "-p 15202:" not in by["bridge"].server  # never every address
    # A burst's server holds its connections: its pids limit (the connection cap) makes room.
    assert M.limits(8192).startswith("--pids-limit 8448 ")


def test_conntrack_is_never_lowered_below_what_the_host_tracks():
    from dockwright.netbench import __main__ as nb
    assert nb.lowering_problem(9000, 8192) and "not lowering" in nb.lowering_problem(8192, 8192)
    assert nb.lowering_problem(120, 8192) is None


def test_the_host_side_guard_restores_conntrack_even_if_the_controller_dies(tmp_path):
    """The guard runs detached from the session: killed with the shell that started it (as a
    dropped SSH session kills it), it still restores the value, here with a short wait and a
    stand-in sysctl."""
    import os
    import subprocess
    import time

    from dockwright.netbench import __main__ as nb
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "sysctl").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/sysctl.log\n")
    (bin_ / "sysctl").chmod(0o755)
    guard = nb.restore_guard("262144").replace(f"sleep {nb.RESTORE_AFTER}", "sleep 1").replace(
        nb.RESTORE_PID, str(tmp_path / "guard.pid"))
    shell = subprocess.Popen(["sh", "-c", guard + "; sleep 30"], env=dict(os.environ, PATH=f"{bin_}:{os.environ['PATH']}"),
                             start_new_session=True)
    time.sleep(0.3)
    os.killpg(shell.pid, 9)  # the controller's session dies
    shell.wait()
    for _ in range(100):
        if (tmp_path / "sysctl.log").exists() and not (tmp_path / "guard.pid").exists():
            break
        time.sleep(0.1)
    assert (tmp_path / "sysctl.log").read_text().split() == ["-q", "-w", "net.netfilter.nf_conntrack_max=262144"]
    assert not (tmp_path / "guard.pid").exists()
    # A run that restores on its own ends the guard (no later write of an older value).
    assert "kill $(cat /run/dockwright-netbench-restore.pid)" in nb.restore_now("262144")


def _netbench(tmp_path, inventory: str, *args):
    import json
    import subprocess
    import sys

    from tests import contract
    out = tmp_path / "nb.json"
    res = subprocess.run([sys.executable, "-m", "dockwright.netbench", inventory, "--json", str(out), *args],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    report = contract.check(json.loads(out.read_text()))
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    return res.returncode, res.stdout + res.stderr, report


def test_a_refused_run_reports_each_host_skipped_with_why(tmp_path):
    inv = tmp_path / "inv.py"
    inv.write_text("hosts = [('h1', {}), ('h2', {}), ('h3', {'netbench': {'allowed': True}})]\n")
    code, out, report = _netbench(tmp_path, str(inv))
    assert code == 1 and report["exit_code"] == 1 and report["error"].startswith("refused: two hosts")
    assert report["coverage"]["in_scope"] == 3 and report["coverage"]["checked"] == 0
    assert report["not_checked"] == {"h3": "not measured: the run was refused"}
    assert report["skipped"] == {"h1": nb_NOT_OPTED_IN(), "h2": nb_NOT_OPTED_IN()}
    assert "coverage:" in out and "h1: skipped: netbench.allowed is not true" in out


def test_an_unreachable_host_is_named_with_its_reason_and_nothing_reads_clean(tmp_path):
    inv = tmp_path / "inv.py"
    opted = {"netbench": {"allowed": True}, "ssh_hostname": "127.0.0.1", "ssh_port": 1, "ssh_connect_retries": 0}
    inv.write_text(f"hosts = [('a', {opted!r}), ('b', {opted!r}), ('c', {{}})]\n")
    code, out, report = _netbench(tmp_path, str(inv))
    assert code == 1 and report["exit_code"] == 1 and report["coverage"]["checked"] == 0
    assert sorted(report["unreachable"]) == ["a", "b"] and all("cannot connect" in why for why in report["unreachable"].values())
    assert report["skipped"] == {"c": nb_NOT_OPTED_IN()} and report["rounds"] == [] and report["summary"] == {}


def nb_NOT_OPTED_IN():
    from dockwright.netbench import __main__ as nb
    return nb.NOT_OPTED_IN


def test_a_failed_measurement_is_named_never_a_figure():
    rounds = [{"round": 1, "mode": "host", "stream": {"mbit_s": 900.0, "bytes": 1.0}, "rr": {"error": "ECONNREFUSED"},
               "crr": {"cps": 10.0, "p50_us": 1.0, "p99_us": 2.0}}]
    assert report.failures(rounds) == ["round 1 host rr: ECONNREFUSED"]
    assert report.failures([{**rounds[0], "rr": {"tps": 1.0, "p50_us": 1.0, "p99_us": 1.0}}]) == []


def test_the_server_address_docker_gives_is_taken_as_an_address_only():
    """The overlay server's address is read from the host (docker inspect): anything but an IP
    address stops the run, naming the host; the client's step is one quoted word."""
    from dockwright.netbench import __main__ as nb

    from .harness import FakeHost
    mode = next(m for m in M.modes(A, B, SUBNETS, None, swarm=True)[0] if m.name == "overlay")
    b = FakeHost(name="B", answer=lambda text: (True, ["10.20.0.5;touch /tmp/x"]))
    with pytest.raises(RuntimeError, match="B: overlay server address is not an IP address"):
        nb.measure(FakeHost(name="A"), b, mode, "img", 1)
    assert mode.client("img", "stream:10.0.0.1:5201:1").endswith(" img stream:10.0.0.1:5201:1")
    assert mode.client("img", "x;y").endswith(" img 'x;y'")


@pytest.mark.parametrize("iface", ["x';id;'", 'x";id;"', "$(id)", "`id`", "@@dw-diag", "-rf", "a|b&c>d"])
def test_an_interface_name_a_host_reports_reaches_the_commands_as_one_word(iface):
    """netbench reads the data interface from the host (`ip -o -4 addr show`): planted as a name
    the kernel allows, it is one word of the macvlan and ipvlan commands, as a benign name is."""
    import shlex

    from dockwright.netbench import __main__ as nb

    from .harness import FakeHost

    def words(name):
        def answer(text):
            if text.startswith("uname -r"):
                return True, ["6.1.0", "26.1.5", "QEMU Virtual CPU", "qemu", "hypervisor", "x86_64",
                              f"3: {name}    inet 10.99.0.12/24 brd 10.99.0.255 scope global {name}",
                              f"3: {name}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc fq_codel state UP"]
            return True, []
        desired = {"netbench": {"address": "10.99.0.212"}, "swarm": {"advertise_addr": "10.99.0.12"}}
        me, env = nb.describe(FakeHost(name="B", answer=answer), desired)
        assert (me.parent, env["mtu"]) == (name, 1450)
        chosen, left = M.modes(me, M.Host("A", "10.99.0.11", "img", "10.99.0.211", "eth1", True), SUBNETS,
                               "10.99.0.0/24", swarm=True)
        assert not set(left) & {"macvlan", "ipvlan_l2"}
        return [shlex.split(cmd) for m in chosen for cmd in (*m.setup.values(), m.server, m.client_net)]

    benign, hostile = words("dwbenign0"), words(iface)
    assert hostile == [[w.replace("dwbenign0", iface) for w in cmd] for cmd in benign]
    assert any(f"parent={iface}" in cmd for cmd in hostile)
