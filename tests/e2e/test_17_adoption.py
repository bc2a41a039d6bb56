"""README's "Adopting an existing fleet", step by step as it is written, on lab2 set up by hand
first as a real fleet's host is: a daemon.json with keys of its own, a sysctl file of its own that
overrides one of dockwright's keys, a running container on a network the data does not declare,
and a DOCKER-USER rule of its own. Nothing the guide does not announce is changed."""

import json
import subprocess
import sys

import pytest

from .conftest import (INVENTORY, REPO, SNAPSHOT, SWARM, drift, failed_checks, lab_env, probe_image, pyinfra,
                       run_watched, ssh)

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first

LOCAL_SYSCTL = "/etc/sysctl.d/99-local.conf"
RULE = "-A DOCKER-USER -s 192.0.2.7/32 -j DROP"
CONTAINER = "docker inspect -f '{{.Id}} {{.State.Running}} {{.HostConfig.NetworkMode}}' shop"
# Step 4, as the guide says to settle each refusal (and to keep a daemon.json key of one's own).
SETTLED = {"lab2": {"sysctl": {"on_override": "takeover"}, "networks": {"on_foreign_rules": "takeover"},
                    "docker": {"passthrough": {"max-concurrent-downloads": 5}}}}


def by_hand() -> None:
    image = probe_image("lab2")
    ssh("lab2", f"echo 'net.core.somaxconn = 4096' > {LOCAL_SYSCTL} && sysctl -q -w net.core.somaxconn=4096; "
                "sed -i -e 's/\"log-level\": \"info\"/\"log-level\": \"debug\"/' "
                "-e '0,/{/s//{\\n  \"max-concurrent-downloads\": 5,/' /etc/docker/daemon.json; "
                "docker network create appnet >/dev/null; "
                f"docker run -d --pull never --restart unless-stopped --network appnet --name shop {image} sleep >/dev/null; "
                f"iptables {RULE.replace('-A', '-I', 1)}")


def undo() -> None:
    ssh("lab2", f"rm -f {LOCAL_SYSCTL} {LOCAL_SYSCTL}.dockwright-bak.* /etc/dockwright/port-policy.*.taken-over; "
                "docker rm -f shop >/dev/null 2>&1; docker network rm appnet >/dev/null 2>&1; "
                f"iptables -D DOCKER-USER {RULE[len('-A DOCKER-USER '):]} 2>/dev/null; true", check=False)


def dry_without_a_tty(*args, host_data=None):
    """As a user or a CI job types it (no -y, no TTY on stdin)."""
    res = run_watched([sys.executable, "-m", "pyinfra", INVENTORY, "deploy.py", *args], 900,
                      lab_env(host_data), stdin=subprocess.DEVNULL)
    out = res.stdout + res.stderr
    print(out[-6000:])
    return res, out


@SWARM
def test_the_adoption_guide_as_written_on_a_host_set_up_by_hand():
    by_hand()
    try:
        before = ssh("lab2", f"{SNAPSHOT}; iptables -S DOCKER-USER; {CONTAINER}")
        container = ssh("lab2", CONTAINER).split()
        assert container[1:] == ["true", "appnet"]

        print("== step 2: dockwright data")
        res = run_watched([sys.executable, "-m", "dockwright", "data", INVENTORY], 300, lab_env())
        assert res.returncode == 0, res.stderr[-2000:]
        merged = json.loads(res.stdout)
        assert merged["lab2"]["desired"]["networks"]["on_foreign_rules"] == "fail"

        print("== step 3: drift.py --json (lab1 untouched beside lab2)")
        res = drift("--limit", "lab1,lab2", "--json", "reports/drift-adoption.json")
        assert res.returncode == 1, res.stdout[-3000:]
        report = json.loads((REPO / "reports" / "drift-adoption.json").read_text())
        why = report["failed"]["lab2"]
        # Both refusals at once, each with the file, the key, the value or the rule.
        assert f"{LOCAL_SYSCTL} sets net.core.somaxconn = 4096 (dockwright: 65535)" in why, why
        assert f"ipv4: {RULE!r}" in why and "networks.on_foreign_rules" in why, why
        assert report["drift"].get("lab1", []) == [] and "lab1" not in report["failed"]
        assert ssh("lab2", f"{SNAPSHOT}; iptables -S DOCKER-USER; {CONTAINER}") == before

        print("== step 4: settle the refusals in data, read again")
        res = drift("--limit", "lab2", host_data=SETTLED)
        assert res.returncode == 2, res.stdout[-3000:]
        for item in (f"[sysctl] boot: net.core.somaxconn overridden by {LOCAL_SYSCTL}: desired '65535', actual '4096'",
                     "[sysctl] live: net.core.somaxconn: desired '65535', actual '4096'",
                     "[docker] daemon.json: log-level: desired 'info', actual 'debug'",
                     f"[firewall] DOCKER-USER (ipv4): rules not dockwright's: desired None, actual [{RULE!r}]"):
            assert item in res.stdout, item
        assert "max-concurrent-downloads" not in res.stdout  # kept through docker.passthrough
        assert "appnet" not in res.stdout and "shop" not in res.stdout  # not declared: left alone

        print("== step 5: deploy.py --dry --diff --limit lab2, no -y, no TTY")
        res, out = dry_without_a_tty("--dry", "--diff", "--limit", "lab2", host_data=SETTLED)
        assert res.returncode == 0, out[-3000:]
        assert "would change [docker] daemon.json: log-level: desired 'info', actual 'debug'" in out
        assert "would change [firewall] DOCKER-USER (ipv4): rules not dockwright's" in out
        assert f"would change [sysctl] boot: net.core.somaxconn overridden by {LOCAL_SYSCTL}" in out
        assert ssh("lab2", f"{SNAPSHOT}; iptables -S DOCKER-USER; {CONTAINER}") == before

        print("== step 6: the canary, deploy.py --limit lab2, then drift.py --limit lab2")
        res = pyinfra("--limit", "lab2", host_data=SETTLED)
        assert res.returncode == 0, failed_checks()
        assert "0 failed" in (res.stdout + res.stderr).split("  lab2: ", 1)[1].splitlines()[0]
        res = drift("--limit", "lab2", host_data=SETTLED)
        assert res.returncode == 0 and "lab2: no drift" in res.stdout
        # What the guide announced, and nothing else: the container and its network kept (the
        # container came back after dockerd's restart), the key of one's own kept, the foreign
        # rule and the overriding key kept aside on the host, not lost.
        assert ssh("lab2", CONTAINER).split() == [container[0], "true", "appnet"]
        assert json.loads(ssh("lab2", "cat /etc/docker/daemon.json"))["max-concurrent-downloads"] == 5
        assert RULE in ssh("lab2", "cat /etc/dockwright/port-policy.ipv4.taken-over")
        assert RULE not in ssh("lab2", "iptables -S DOCKER-USER")
        assert "# disabled by dockwright for /etc/sysctl.d/90-dockwright.conf: net.core.somaxconn = 4096" in \
            ssh("lab2", f"cat {LOCAL_SYSCTL}")
        assert "net.core.somaxconn = 4096" in ssh("lab2", f"cat {LOCAL_SYSCTL}.dockwright-bak.*")
        assert ssh("lab2", "sysctl -n net.core.somaxconn").strip() == "65535"

        print("== step 7: the rest, deploy.py --limit lab1")
        res = pyinfra("--limit", "lab1")
        assert res.returncode == 0, failed_checks()
    finally:
        undo()
        assert pyinfra("--limit", "lab2", "--data", 'verify={"after_deploy": false}').returncode == 0
