"""Bridge networks field by field, name resolution, and Docker's iptables chains."""

import shlex

import pytest

from operations import firewall, model, networks


@pytest.fixture
def bridges(target):
    if not model.enabled(target.desired, "networks"):
        pytest.skip("networks concern off for this host")
    return target.desired["networks"]["bridges"]


def test_bridges_match_data_field_by_field(target, bridges):
    actual = target.fact(networks.DockerNetworks)
    wrong = []
    for name, spec in sorted(bridges.items()):
        if name not in actual:
            wrong.append(f"{name}: missing")
            continue
        wrong += [f"{name}.{f}: want {w!r}, has {h!r}" for f, w, h in networks.differences(spec, actual[name])]
        if actual[name]["driver"] != "bridge":
            wrong.append(f"{name}.driver: {actual[name]['driver']}")
    assert not wrong, "; ".join(wrong)


def test_bridge_dns_and_workload(target, bridges):
    """On each declared bridge, a client container resolves a peer by name through Docker's
    embedded DNS (127.0.0.11) and reaches it with wget and ping (under the default profiles)."""
    image = target.desired["verify"]["image"]
    for name in sorted(bridges):
        peer = shlex.quote(f"dw-verify-{name}-peer")
        net = shlex.quote(name)  # names are checked at validation; quoted all the same
        target.run(f"docker rm -f {peer} >/dev/null 2>&1")
        target.out(f"docker run -d --pull never --name {peer} --network {net} {shlex.quote(image)} "
                   "sh -c 'echo hello > /tmp/index.html; httpd -f -p 8080 -h /tmp'")
        try:
            _, out = target.container(
                f"--network {net}",
                f"grep -q 'nameserver 127.0.0.11' /etc/resolv.conf && echo resolv-ok; "
                f"nslookup {peer} 127.0.0.11 | grep -q 'Address.*{bridges[name]['subnet'].rsplit('.', 2)[0]}' "
                f"&& echo dns-ok; wget -qO- http://{peer}:8080/index.html; "
                f"ping -c1 -W5 {peer} >/dev/null && echo ping-ok")
            assert out.split() == ["resolv-ok", "dns-ok", "hello", "ping-ok"], f"{name}: {out.split()}"
        finally:
            target.run(f"docker rm -f {peer} >/dev/null 2>&1")


def test_docker_iptables_chains(target, bridges):
    daemon = target.desired["docker"]["daemon"]
    if daemon.get("iptables") is False:
        pytest.skip("data turns Docker's iptables management off")
    filt = target.out("iptables -S")
    nat = target.out("iptables -t nat -S POSTROUTING")
    assert "-N DOCKER" in filt and "-N DOCKER-USER" in filt, "DOCKER / DOCKER-USER chains missing"
    assert "-j DOCKER-USER" in filt, "FORWARD does not jump to DOCKER-USER"
    for name, spec in sorted(bridges.items()):
        assert f"-s {spec['subnet']} " in nat and "MASQUERADE" in nat, \
            f"no MASQUERADE for {name} ({spec['subnet']})"


def test_docker_user_port_policy(target):
    rules = target.desired["networks"].get("docker_user") or []
    if not model.enabled(target.desired, "networks") or not rules:
        pytest.skip("no DOCKER-USER rules in data")
    live = [line.removeprefix("-A DOCKER-USER ") for line in target.out("iptables -S DOCKER-USER").splitlines()
            if line.startswith("-A ")]
    assert live == [firewall.render_rule(r) for r in rules] + ["-j RETURN"], live
