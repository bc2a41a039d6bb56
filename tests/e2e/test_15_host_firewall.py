"""ufw beside Docker on lab3: a published port bypasses ufw's deny (the control), the declared
port policy admits exactly its sources, and ufw reload, disable/enable and a dockerd restart leave
it in force; diagnose names the bypass; a policy flushed by hand is found by drift and put back.

The sources are the controller itself, joined to the data network with two addresses
(lab/peer.py): the other VMs belong to the other lane.
"""

import pytest

from lab import peer

from .conftest import NO_VERIFY, STANDALONE, drift, probe_image, pyinfra, ssh
from .test_10_diagnose import diagnose, found

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first

LAB3 = "10.99.0.13"
ADMITTED, REFUSED = "10.99.0.2", "10.99.0.3"
PUBLISHED = 8088  # published by a container: DNAT, then FORWARD
OWN = 8099  # a listener of lab3's own: INPUT, where ufw's rules are
LAB_RULE = {"port": 2375, "proto": "tcp", "deny_from": ["0.0.0.0/0", "::/0"]}  # group_data/lab.py
POLICY = {"lab3": {"networks": {"port_policy": [
    LAB_RULE, {"port": PUBLISHED, "proto": "tcp", "allow_from": [f"{ADMITTED}/32"]}]}}}
UFW_ON = ("ufw --force reset >/dev/null && ufw default deny incoming >/dev/null && ufw allow 22/tcp >/dev/null "
          "&& ufw --force enable >/dev/null")
# ufw's own state: what dockwright must leave as it found it.
UFW_STATE = "ufw status verbose; iptables -S | grep -i ufw; ip6tables -S | grep -i ufw"
# (the pattern's brackets keep pkill from matching this command's own shell)
CLEAN = ("docker rm -f dw-ufw-web >/dev/null 2>&1; pkill -f 'httpd -p [8]099'; ufw --force reset >/dev/null; "
         "rm -f /etc/ufw/*.rules.[0-9]* /etc/ufw/*.rules.*_[0-9]*; true")


def reached() -> dict:
    """What each source gets from each port: "hello", or "timeout" for a dropped SYN."""
    return {(src, port): peer.fetch(LAB3, port, src) for src in (ADMITTED, REFUSED) for port in (PUBLISHED, OWN)}


def want(published_refused: bool, ufw: bool) -> dict:
    gone = "timeout"
    return {(ADMITTED, PUBLISHED): "hello", (REFUSED, PUBLISHED): gone if published_refused else "hello",
            (ADMITTED, OWN): gone if ufw else "hello", (REFUSED, OWN): gone if ufw else "hello"}


def bypasses(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["check"] == "host_firewall_bypass"]


@STANDALONE
def test_ufw_cannot_see_a_published_port_and_the_port_policy_closes_it_through_reloads_and_restarts():
    image = probe_image("lab3")
    ssh("lab3", CLEAN, check=False)
    try:
        ssh("lab3", f"docker run -d --pull never --name dw-ufw-web -p {PUBLISHED}:8080 {image} serve 8080 1800 "
                    f">/dev/null; mkdir -p /run/dw-ufw && echo hello > /run/dw-ufw/index.html && "
                    f"busybox httpd -p {OWN} -h /run/dw-ufw")
        with peer.joined((ADMITTED, REFUSED)):
            assert reached() == want(published_refused=False, ufw=False)  # the network works
            ssh("lab3", UFW_ON)
            # The control: ufw denies lab3's own port, yet the published one is open to all.
            assert reached() == want(published_refused=False, ufw=True)
            res, report = diagnose("--limit", "lab3")
            (bypass,) = bypasses(report)
            assert bypass["scope"] == "container dw-ufw-web" and f"0.0.0.0:{PUBLISHED}/tcp" in bypass["value"]
            assert "ufw" in bypass["value"] and f'"port": {PUBLISHED}' in bypass["fix"]
            ufw_before = ssh("lab3", UFW_STATE)
            assert "Status: active" in ufw_before

            # The port policy: exactly the declared source; ufw's own rules and status untouched.
            assert pyinfra("--limit", "lab3", *NO_VERIFY, host_data=POLICY).returncode == 0
            assert reached() == want(published_refused=True, ufw=True)
            assert ssh("lab3", UFW_STATE) == ufw_before
            res, report = diagnose("--limit", "lab3", host_data=POLICY)
            assert bypasses(report) == [], bypasses(report)

            for step in ("ufw reload", "ufw disable && ufw --force enable", "systemctl restart docker"):
                ssh("lab3", f"{step} >/dev/null")
                if "docker" in step:  # live-restore keeps the container; its port is back once dockerd is
                    ssh("lab3", "for i in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done")
                assert reached() == want(published_refused=True, ufw=True), f"after {step}"
                assert ssh("lab3", UFW_STATE) == ufw_before, f"after {step}"

            # Anything else that flushes the chain: drift names it, the next run puts it back.
            ssh("lab3", "iptables -F DOCKER-USER")
            assert reached()[(REFUSED, PUBLISHED)] == "hello"
            res = drift("--limit", "lab3", host_data=POLICY)
            assert res.returncode == 2 and "[firewall] DOCKER-USER (ipv4, live)" in res.stdout, res.stdout[-3000:]
            assert pyinfra("--limit", "lab3", *NO_VERIFY, host_data=POLICY).returncode == 0
            assert reached() == want(published_refused=True, ufw=True)
            assert ssh("lab3", UFW_STATE) == ufw_before
    finally:
        ssh("lab3", CLEAN, check=False)
        assert pyinfra("--limit", "lab3", *NO_VERIFY).returncode == 0  # back to the data
