"""Networks: hand-made changes are reported by field and corrected; the overlay is encrypted
on the wire."""

import time

from .conftest import NO_VERIFY, drift, pyinfra, ssh


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


def test_overlay_traffic_is_esp_on_the_data_network():
    run = "docker run -d --pull never --network secure-net --name {} dw-test sleep 600 >/dev/null"
    ssh("lab1", "docker rm -f ov1 >/dev/null 2>&1; " + run.format("ov1"))
    ssh("lab2", "docker rm -f ov2 >/dev/null 2>&1; " + run.format("ov2"))
    try:
        ssh("lab2", "rm -f /tmp/cap.pcap; (timeout 60 tcpdump -ni eth1 -w /tmp/cap.pcap </dev/null "
                    "'ip proto 50 or udp port 4789' >/dev/null 2>&1 &)")
        time.sleep(3)
        # name resolution across hosts can take a moment after the containers attach
        out = ssh("lab1", "for i in 1 2 3 4 5 6 7 8 9 10; do docker exec ov1 ping -c 3 -W 3 ov2 && break; "
                          "sleep 3; done", check=False)
        assert " 0% packet loss" in out or "3 packets received" in out, out
        assert "proto esp" in ssh("lab1", "ip xfrm state")
        time.sleep(2)
        ssh("lab2", "pkill -INT tcpdump; sleep 2", check=False)
        esp = int(ssh("lab2", "tcpdump -nr /tmp/cap.pcap 'ip proto 50' 2>/dev/null | wc -l"))
        vxlan = int(ssh("lab2", "tcpdump -nr /tmp/cap.pcap 'udp port 4789' 2>/dev/null | wc -l"))
        assert esp > 0 and vxlan == 0, f"ESP packets {esp}, cleartext VXLAN packets {vxlan}"
    finally:
        ssh("lab1", "docker rm -f ov1 >/dev/null 2>&1", check=False)
        ssh("lab2", "docker rm -f ov2 >/dev/null 2>&1", check=False)
