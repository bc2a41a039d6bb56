"""Networks: hand-made changes are reported by field and corrected; the overlay is encrypted
on the wire."""

import time

import pytest

from .conftest import NO_VERIFY, SWARM, changed_ops, drift, probe_image, pyinfra, ssh, verify

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first


@SWARM
def test_hand_changed_networks_are_reported_and_corrected():
    ssh("lab1", "docker network rm backend >/dev/null && "
                "docker network create --subnet 10.6.0.0/16 backend >/dev/null && "
                "docker network rm secure-net >/dev/null && "
                "docker network create -d overlay --attachable --subnet 10.20.0.0/24 secure-net >/dev/null")
    res = drift("--limit", "lab1")
    assert res.returncode == 2
    assert "[networks] backend.subnet: desired '10.5.0.0/16', actual '10.6.0.0/16'" in res.stdout
    assert "[overlays] secure-net.encrypted: desired True, actual False" in res.stdout
    assert pyinfra("--limit", "lab1", *NO_VERIFY).returncode == 0
    assert drift("--limit", "lab1").returncode == 0


@SWARM
def test_overlay_traffic_is_esp_on_the_data_network():
    run = "docker run -d --pull never --network secure-net --name {} {} sleep >/dev/null"
    ssh("lab1", "docker rm -f ov1 >/dev/null 2>&1; " + run.format("ov1", probe_image("lab1")))
    ssh("lab2", "docker rm -f ov2 >/dev/null 2>&1; " + run.format("ov2", probe_image("lab2")))
    try:
        # The capture must be running before the first packet: tcpdump says so on stderr.
        ssh("lab2", "rm -f /tmp/cap.pcap /tmp/cap.log; (timeout 120 tcpdump -ni eth1 -w /tmp/cap.pcap </dev/null "
                    "'ip proto 50 or udp port 4789' >/tmp/cap.log 2>&1 &); "
                    "for i in $(seq 60); do grep -q 'listening on' /tmp/cap.log && exit 0; sleep 1; done; exit 1")
        # name resolution across hosts can take a moment after the containers attach
        out = ssh("lab1", "for i in 1 2 3 4 5 6 7 8 9 10; do docker exec ov1 /dwprobe ping:ov2 "
                          "| grep -x ping:ov2=ok && break; sleep 3; done", check=False)
        assert out.strip() == "ping:ov2=ok", out
        assert "proto esp" in ssh("lab1", "ip xfrm state")
        time.sleep(2)
        ssh("lab2", "pkill -INT tcpdump; sleep 2", check=False)
        esp = int(ssh("lab2", "tcpdump -nr /tmp/cap.pcap 'ip proto 50' 2>/dev/null | wc -l"))
        vxlan = int(ssh("lab2", "tcpdump -nr /tmp/cap.pcap 'udp port 4789' 2>/dev/null | wc -l"))
        assert esp > 0 and vxlan == 0, f"ESP packets {esp}, cleartext VXLAN packets {vxlan}"
    finally:
        ssh("lab1", "docker rm -f ov1 >/dev/null 2>&1", check=False)
        ssh("lab2", "docker rm -f ov2 >/dev/null 2>&1", check=False)


POLICY = {"lab3": {"networks": {"port_policy": [
    {"port": 2375, "proto": "tcp", "deny_from": ["0.0.0.0/0", "::/0"]},
    {"port": 8080, "proto": "tcp", "allow_from": ["10.99.0.11/32"]},
]}}}


def test_port_policy_by_published_port_across_hosts():
    """lab3 publishes 8080 and admits only lab1's data address: lab2 is refused, lab1 gets
    in, lab3's containers still reach port 8080 elsewhere; a second deploy changes nothing;
    the same holds after a dockerd restart. (After a reboot: test_05 checks the group's policy
    on lab1.)"""
    res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=POLICY)
    assert res.returncode == 0
    print("lab3 rules written (iptables -S DOCKER-USER):\n" + ssh("lab3", "iptables -S DOCKER-USER"))
    res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=POLICY)
    assert res.returncode == 0 and changed_ops(res) == []
    checks = "port_policy"

    def behaves(checks, passed):
        out = verify("--limit", "lab1,lab2,lab3", "-k", checks, host_data=POLICY)
        assert out.returncode == 0, out.stdout[-3000:]
        assert f"lab3: {passed} passed, 0 failed" in out.stdout

    behaves(checks, 2)
    ssh("lab3", "systemctl restart docker")
    # After the restart: who is admitted (egress, untouched by the policy, was shown above).
    behaves(checks + " and not egress", 1)
    assert pyinfra("--limit", "lab3", *NO_VERIFY).returncode == 0  # back to the data
