"""What must not reach a host: injected names, the join token in a process list, a deleted
declared network, a write through a symlink, a lost alias."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import (HOSTS, INVENTORY, NO_VERIFY, REPO, SNAPSHOT, STANDALONE, SWARM, drift, lab_env,
                       probe_image, pyinfra, ssh)

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first

MARKERS = "ls /tmp/PWNED* /tmp/pwned* 2>/dev/null | wc -l"


def test_injection_strings_are_refused_and_nothing_runs():
    before = {h: ssh(h, SNAPSHOT) for h in HOSTS}
    res = pyinfra(host_data={
        "lab1": {"apparmor": {"name": "dw' /dev/null; touch /tmp/PWNED; echo '"},
                 "networks": {"bridges": {"x;touch /tmp/pwned;": {"subnet": "10.77.0.0/24"}}}},
        "lab2": {"seccomp": {"name": "dw.json; touch /tmp/PWNED; :"},
                 "networks": {"overlays": {"--help": {"subnet": "10.78.0.0/24"}}}},
        "lab3": {"swarm": {"advertise_addr": "10.0.0.1;touch /tmp/PWNED"},
                 "sysctl": {"file": "/etc/sysctl.d/x.conf;touch /tmp/PWNED"}},
    })
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "no host was changed" in out
    for text in ("lab1: apparmor.name = \"dw' /dev/null; touch /tmp/PWNED; echo '\": not a valid profile name",
                 "lab1: networks.bridges.x;touch /tmp/pwned; = 'x;touch /tmp/pwned;': not a valid network name",
                 "lab2: seccomp.name = 'dw.json; touch /tmp/PWNED; :': not a valid profile name",
                 "lab2: networks.overlays.--help = '--help': not a valid network name",
                 "lab3: swarm.advertise_addr = '10.0.0.1;touch /tmp/PWNED': ",
                 "lab3: sysctl.file = '/etc/sysctl.d/x.conf;touch /tmp/PWNED': not a valid sysctl.d file"):
        assert text in out, text
    assert "Starting operation" not in out
    assert {h: ssh(h, MARKERS).strip() for h in HOSTS} == {h: "0" for h in HOSTS}
    assert {h: ssh(h, SNAPSHOT) for h in HOSTS} == before


def watch(pattern: str) -> str:
    """A watcher on a VM: every process command line holding pattern (grep -l), sampled until
    /tmp/argv-stop exists. The pattern's brackets keep it from matching its own command line."""
    return ("rm -f /tmp/argv-hits /tmp/argv-samples /tmp/argv-stop; (end=$(( $(date +%s) + 600 )); n=0; "
            "while [ $(date +%s) -lt $end ] && [ ! -f /tmp/argv-stop ]; do "
            f"for f in $(grep -l '{pattern}' /proc/[0-9]*/cmdline 2>/dev/null); do "
            "tr '\\0' ' ' < $f >> /tmp/argv-hits 2>/dev/null; echo >> /tmp/argv-hits; done; "
            "n=$((n+1)); echo $n > /tmp/argv-samples; done) >/dev/null 2>&1 &")


@SWARM
def test_join_token_never_appears_in_a_process_list():
    ssh("lab2", "docker swarm leave --force >/dev/null 2>&1; rm -f /tmp/argv-stop")
    ssh("lab1", "docker node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' | "
                "awk '$2 == \"lab2\" {print $1}' | xargs -r docker node rm --force >/dev/null")
    ssh("lab2", watch("SWMTK[N]"))
    try:
        # Control: an argument holding the token prefix is seen by the watcher.
        ssh("lab2", "sh -c 'sleep 4' SWMTKN-control-marker")
        assert "SWMTKN-control-marker" in ssh("lab2", "cat /tmp/argv-hits")
        ssh("lab2", ": > /tmp/argv-hits")
        res = pyinfra("--limit", "lab1", "--limit", "lab2", *NO_VERIFY)
        assert res.returncode == 0
        time.sleep(2)
    finally:
        ssh("lab2", "touch /tmp/argv-stop")
    hits = ssh("lab2", "cat /tmp/argv-hits").strip()
    samples = int(ssh("lab2", "cat /tmp/argv-samples"))
    print(f"argv watcher on lab2: {samples} samples of /proc/*/cmdline during the join, hits: {hits!r}")
    assert hits == "" and samples > 10
    assert ssh("lab2", "docker info --format '{{.Swarm.LocalNodeState}}'").strip() == "active"


@SWARM
def test_prune_keeps_the_declared_overlay_and_removes_an_unused_network():
    ssh("lab1", "docker network create junk-net >/dev/null")
    prune = {"lab1": {"networks": {"prune": True}}}
    for _ in range(2):
        res = pyinfra("--limit", "lab1", *NO_VERIFY, host_data=prune)
        assert res.returncode == 0
        names = ssh("lab1", "docker network ls --format '{{.Name}}'").split()
        assert "secure-net" in names and "backend" in names and "ingress" in names
        assert "junk-net" not in names
    out = res.stdout + res.stderr
    assert "networks: prune undeclared" in out and "overlays: secure-net" in out


@STANDALONE
def test_a_password_inside_a_url_reaches_no_argv_no_0644_file_and_no_report():
    """A daemon label holding http://user:password@... (a secret by its value, wherever it sits):
    deployed to lab3 with a watcher sampling every process's command line (dockerd --validate
    gets the candidate too), then drift.py run against data without it. The password is in no
    argv, daemon.json is 0600 while it holds it, and drift's output and JSON show it masked."""
    secret = "dwurlsecret"
    label = f"dw.mirror=http://dwuser:{secret}@mirror.invalid"
    with_label = {"lab3": {"docker": {"daemon": {"labels": [label]}}}}
    ssh("lab3", watch("dwurlsecre[t]"))
    try:
        ssh("lab3", f"sh -c 'sleep 4' {secret}-control")  # the control: the watcher sees it
        assert f"{secret}-control" in ssh("lab3", "cat /tmp/argv-hits")
        ssh("lab3", ": > /tmp/argv-hits")
        res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=with_label)
        assert res.returncode == 0, res.stdout[-3000:]
    finally:
        ssh("lab3", "touch /tmp/argv-stop")
    try:
        hits, samples = ssh("lab3", "cat /tmp/argv-hits").strip(), int(ssh("lab3", "cat /tmp/argv-samples"))
        print(f"argv watcher on lab3: {samples} samples of /proc/*/cmdline during the deploy, hits: {hits!r}")
        assert hits == "" and samples > 10
        assert ssh("lab3", "stat -c %a /etc/docker/daemon.json").strip() == "600"
        assert secret in ssh("lab3", "cat /etc/docker/daemon.json")  # applied, privately
        out = REPO / "reports" / "drift-url-secret.json"
        res = drift("--limit", "lab3", "--json", str(out))  # the data without it: drift shows the label
        assert res.returncode == 2 and "labels" in res.stdout and "<secret sha256:" in res.stdout
        assert secret not in res.stdout + res.stderr and secret not in out.read_text()
    finally:
        assert pyinfra("--limit", "lab3", *NO_VERIFY).returncode == 0
    assert ssh("lab3", "stat -c %a /etc/docker/daemon.json").strip() == "644"


@STANDALONE
def test_sysctl_mask_is_recognised_and_symlinks_are_never_written_through():
    ssh("lab3", "mkdir -p /usr/lib/sysctl.d /opt/tune && "
                "echo 'net.core.somaxconn = 1024' > /usr/lib/sysctl.d/99-vendor.conf && "
                "ln -sf /dev/null /etc/sysctl.d/99-vendor.conf")
    try:
        res = pyinfra("--limit", "lab3", *NO_VERIFY)  # policy fail: the masked vendor file sets nothing
        assert res.returncode == 0, "a masked vendor file was taken for an override"
        ssh("lab3", "echo 'net.core.somaxconn = 2048' > /opt/tune/tune.conf && "
                    "ln -sf /opt/tune/tune.conf /etc/sysctl.d/99-zz-link.conf")
        res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data={"lab3": {"sysctl": {"on_override": "takeover"}}})
        out = res.stdout + res.stderr
        assert res.returncode != 0
        assert "/etc/sysctl.d/99-zz-link.conf -> /opt/tune/tune.conf" in out
        assert ssh("lab3", "readlink /etc/sysctl.d/99-zz-link.conf; cat /opt/tune/tune.conf").split("\n")[:2] == \
            ["/opt/tune/tune.conf", "net.core.somaxconn = 2048"]
    finally:
        ssh("lab3", "rm -f /etc/sysctl.d/99-vendor.conf /etc/sysctl.d/99-zz-link.conf "
                    "/usr/lib/sysctl.d/99-vendor.conf; rm -rf /opt/tune")


def _endpoint(container: str) -> str:
    return ssh("lab3", "docker inspect -f '{{with index .NetworkSettings.Networks \"backend\"}}"
                       "{{.IPAMConfig.IPv4Address}} {{.IPAddress}} {{join .Aliases \",\"}}{{end}}' " + container).strip()


@STANDALONE
def test_recreate_keeps_aliases_and_addresses_and_restores_on_failure():
    image = probe_image("lab3")
    ssh("lab3", "docker rm -f svc1 >/dev/null 2>&1; docker network rm rogue >/dev/null 2>&1; "
                "docker run -d --pull never --name svc1 --network backend --network-alias api "
                f"--ip 10.5.0.50 {image} sleep >/dev/null")
    try:
        res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data={"lab3": {"networks": {
            "allow_disconnect": True, "bridges": {"backend": {"mtu": 1400}}}}})
        assert res.returncode == 0
        assert ssh("lab3", "docker network inspect -f '{{index .Options \"com.docker.network.driver.mtu\"}}' backend").strip() == "1400"
        ip, addr, aliases = _endpoint("svc1").split(" ")
        assert (ip, addr) == ("10.5.0.50", "10.5.0.50") and "api" in aliases.split(",")
        out = ssh("lab3", f"docker run --rm --pull never --network backend {image} resolve:api")
        assert out.strip() == "resolve:api=10.5.0.50", out
        # A create that fails (the new subnet is taken by a network made by hand): the old
        # network comes back and svc1 is on it as before.
        ssh("lab3", "docker network create --subnet 10.88.0.0/16 rogue >/dev/null")
        res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data={"lab3": {"networks": {
            "allow_disconnect": True, "bridges": {"backend": {"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}}}}})
        assert res.returncode != 0 and "restoring the previous network" in res.stdout + res.stderr
        assert ssh("lab3", "docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' backend").strip() == "10.5.0.0/16"
        ip, addr, aliases = _endpoint("svc1").split(" ")
        assert (ip, addr) == ("10.5.0.50", "10.5.0.50") and "api" in aliases.split(",")
    finally:
        ssh("lab3", "docker rm -f svc1 >/dev/null 2>&1; docker network rm rogue >/dev/null 2>&1", check=False)
    assert pyinfra("--limit", "lab3", *NO_VERIFY).returncode == 0  # back to the data (mtu 1500)


# A docker that hangs on `network create` (and never creates): the window in which to kill the run.
HANG_CREATE = ("printf '#!/bin/sh\\nif [ \"$1 $2\" = \"network create\" ]; then echo $$ > /run/dw-create-hang; "
               "sleep 300; exit 1; fi\\nexec /usr/bin/docker \"$@\"\\n' > /usr/local/bin/docker && "
               "chmod 755 /usr/local/bin/docker && rm -f /run/dw-create-hang")
JOURNAL = "/var/lib/dockwright/networks/backend.json"


@STANDALONE
def test_a_recreate_killed_midway_is_finished_from_its_journal():
    """The run dies after disconnecting the containers (a running one with a static address and
    an alias, a stopped one with an alias) and removing the network: the next run creates the
    network and puts both back as they were, from the journal the recreate left on the host."""
    image = probe_image("lab3")
    ssh("lab3", "docker rm -f svc1 svc2 >/dev/null 2>&1; "
                "docker run -d --pull never --name svc1 --network backend --network-alias api "
                f"--ip 10.5.0.50 {image} sleep >/dev/null && "
                f"docker create --pull never --name svc2 --network backend --network-alias db {image} sleep >/dev/null")
    data = {"lab3": {"networks": {"allow_disconnect": True, "bridges": {"backend": {"mtu": 1400}}}}}
    ssh("lab3", HANG_CREATE)
    proc = subprocess.Popen([sys.executable, "-m", "pyinfra", INVENTORY, "deploy.py", "-y", "--limit", "lab3",
                             *NO_VERIFY], cwd=REPO, env=lab_env(data), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not ssh("lab3", "cat /run/dw-create-hang 2>/dev/null", check=False).strip():
            time.sleep(1)
        assert proc.poll() is None, "the run ended before the create"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the controller, between the disconnects and the create
        proc.wait()
        ssh("lab3", "kill $(cat /run/dw-create-hang) 2>/dev/null; rm -f /usr/local/bin/docker /run/dw-create-hang",
            check=False)
    try:
        assert ssh("lab3", "docker network inspect backend >/dev/null 2>&1 || echo absent").strip() == "absent"
        journal = json.loads(ssh("lab3", f"cat {JOURNAL}"))["endpoints"]
        assert journal == {"svc1": {"aliases": ["api"], "ipv4": "10.5.0.50", "ipv6": None},
                           "svc2": {"aliases": ["db"], "ipv4": None, "ipv6": None}}, journal
        assert ssh("lab3", f"stat -c %a {JOURNAL}").strip() == "600"
        res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=data)
        out = res.stdout + res.stderr
        assert res.returncode == 0 and "reconnecting svc1, svc2 from the journal" in out, out[-3000:]
        ip, addr, aliases = _endpoint("svc1").split(" ")
        assert (ip, addr) == ("10.5.0.50", "10.5.0.50") and "api" in aliases.split(",")
        assert "db" in ssh("lab3", "docker inspect -f '{{with index .NetworkSettings.Networks \"backend\"}}"
                                   "{{join .Aliases \",\"}}{{end}}' svc2")
        assert ssh("lab3", "docker network inspect -f '{{index .Options \"com.docker.network.driver.mtu\"}}' backend"
                   ).strip() == "1400"
        assert ssh("lab3", f"[ -e {JOURNAL} ] && echo kept || echo removed").strip() == "removed"
        ssh("lab3", "docker start svc2 >/dev/null")  # the stopped one starts on the new network
    finally:
        ssh("lab3", "docker rm -f svc1 svc2 >/dev/null 2>&1", check=False)
    assert pyinfra("--limit", "lab3", *NO_VERIFY).returncode == 0  # back to the data (mtu 1500)
