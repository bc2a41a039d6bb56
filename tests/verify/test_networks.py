"""Bridge networks field by field, name resolution, and Docker's iptables chains."""

import ipaddress
import shlex

import pytest

from operations import model

from . import expect, snapshot


@pytest.fixture
def bridges(target):
    if not model.enabled(target.desired, "networks"):
        pytest.skip("networks concern off for this host")
    return target.desired["networks"]["bridges"]


def test_bridges_match_data_field_by_field(target, bridges):
    actual = snapshot.networks(target.state())
    wrong = []
    for name, spec in sorted(bridges.items()):
        wrong += expect.network_mismatches(name, spec, actual.get(name))
        if name in actual and actual[name]["Driver"] != "bridge":
            wrong.append(f"{name}.driver: {actual[name]['Driver']}")
    assert not wrong, "; ".join(wrong)


def test_bridge_dns_and_workload(target, bridges):
    """On each declared bridge, a client container resolves a peer by name through Docker's
    embedded DNS (127.0.0.11) and reaches it with wget and ping (under the default profiles)."""
    target.require_behaviour()
    image = target.desired["verify"]["image"]
    for name in sorted(bridges):
        peer = shlex.quote(f"dw-verify-{name}-peer")
        net = shlex.quote(name)  # names are checked at validation; quoted all the same
        client = (f"grep -q 'nameserver 127.0.0.11' /etc/resolv.conf && echo resolv-ok; "
                  f"nslookup {peer} 127.0.0.11 | grep -q 'Address.*{bridges[name]['subnet'].rsplit('.', 2)[0]}' "
                  f"&& echo dns-ok; wget -qO- http://{peer}:8080/index.html; "
                  f"ping -c1 -W5 {peer} >/dev/null && echo ping-ok")
        # The peer, the client and the clean-up in one command.
        res = target.run(
            f"docker rm -f {peer} >/dev/null 2>&1; docker run -d --pull never --name {peer} --network {net} "
            f"{shlex.quote(image)} sh -c 'echo hello > /tmp/index.html; httpd -f -p 8080 -h /tmp' >/dev/null && "
            f"docker run --rm --pull never --network {net} {shlex.quote(image)} sh -c {shlex.quote(client)}; "
            f"rc=$?; docker rm -f {peer} >/dev/null 2>&1; exit $rc")
        assert res.stdout.split() == ["resolv-ok", "dns-ok", "hello", "ping-ok"], \
            f"{name}: {res.stdout.split()} (rc {res.rc}: {res.stderr.strip()[-300:]})"


def test_docker_iptables_chains(target, bridges):
    daemon = target.desired["docker"]["daemon"]
    if daemon.get("iptables") is False:
        pytest.skip("data turns Docker's iptables management off")
    filt, nat = target.state()["iptables.filter"], target.state()["iptables.nat"]
    assert "-N DOCKER" in filt and "-N DOCKER-USER" in filt, "DOCKER / DOCKER-USER chains missing"
    assert "-j DOCKER-USER" in filt, "FORWARD does not jump to DOCKER-USER"
    for name, spec in sorted(bridges.items()):
        assert f"-s {spec['subnet']} " in nat and "MASQUERADE" in nat, \
            f"no MASQUERADE for {name} ({spec['subnet']})"


def fetch(url: str) -> str:
    """A bounded fetch in the verify image. `timeout` rather than `wget -T` (Debian 12's busybox
    wget crashes with -T); `; exit` keeps wget from being the container's PID 1, which ignores
    timeout's SIGTERM and waits out the kernel's whole connect timeout (over 2 minutes)."""
    return f"timeout 10 wget -qO- {url} 2>/dev/null; exit $?"


def _reachable_ports(peer, address: str, ports: list[int]) -> set[int]:
    """From the peer's own address (a container on its host network), the ports of address
    that serve the page: one container, every port tried at once."""
    tries = " ".join(str(int(p)) for p in ports)
    rc, out = peer.container("--network host", (
        f"for p in {tries}; do (if timeout 10 wget -qO- http://{shlex.quote(address)}:$p/ 2>/dev/null | grep -qx hello; "
        "then echo open $p; fi) & done; wait"), check=False)
    return {int(w[1]) for w in (line.split() for line in out.splitlines()) if len(w) == 2 and w[0] == "open"}


def _address(t) -> str | None:
    """The address other hosts reach t on (and t's connections come from)."""
    return t.data.get("data_ip") or t.data.get("ssh_hostname")


def _admitted(rule: dict, source: str) -> bool:
    """Whether the rule lets a new connection from source in, read straight from the data."""
    addr = ipaddress.ip_address(source)
    nets = [ipaddress.ip_network(c, strict=False) for c in rule.get("allow_from", rule.get("deny_from", []))]
    inside = any(addr in n for n in nets if n.version == addr.version)
    return inside if "allow_from" in rule else not inside


def test_port_policy_admits_exactly_whom_the_data_says(target, peers):
    """Each TCP rule of the data, tried from every other host of the run against a container
    that publishes the rule's port here: admitted or not as the data says. The same container
    published on a port no rule names is reached by every peer (the control: the check can
    fail, the network works)."""
    policy = target.desired["networks"].get("port_policy") if model.enabled(target.desired, "networks") else None
    rules = [r for r in policy or [] if r.get("proto", "tcp") == "tcp" and isinstance(r["port"], int)
             and not r.get("in_interface") and r.get("family", "both") in ("both", "ipv4")]
    if not rules:
        pytest.skip("no single-port TCP rule for IPv4 in the data")
    target.require_behaviour()
    me, image = _address(target), target.desired["verify"]["image"]
    others = [p for p in peers if _address(p)]
    if not others:
        pytest.skip("no other host in this run to connect from")
    ports = [r["port"] for r in rules]
    control = next(p for p in range(18080, 18180) if p not in ports)
    name = "dw-verify-port-policy"
    publish = " ".join(f"-p {int(p)}:8080" for p in [*ports, control])
    target.out(f"docker rm -f {name} >/dev/null 2>&1; docker run -d --pull never --name {name} {publish} {shlex.quote(image)} "
               "sh -c 'echo hello > /tmp/index.html; httpd -f -p 8080 -h /tmp'")
    try:
        wrong = []
        for peer in others:
            reached = _reachable_ports(peer, me, [*ports, control])
            if control not in reached:
                wrong.append(f"control port {control}: {peer.name} cannot reach {me} at all")
                continue
            for rule in rules:
                want = _admitted(rule, _address(peer))
                got = rule["port"] in reached
                if want != got:
                    wrong.append(f"port {rule['port']}: {peer.name} ({_address(peer)}) "
                                 f"{'reached' if got else 'was refused'}, data says {'admit' if want else 'refuse'}")
        assert not wrong, "; ".join(wrong)
    finally:
        target.run(f"docker rm -f {name} >/dev/null 2>&1")


def test_port_policy_leaves_container_egress_alone(target, peers):
    """A container here connects out to the same port numbers on another host (where that
    host's own policy admits us): the policy filters inbound published ports only."""
    policy = target.desired["networks"].get("port_policy") if model.enabled(target.desired, "networks") else None
    ports = sorted({r["port"] for r in policy or [] if isinstance(r["port"], int) and r.get("proto", "tcp") == "tcp"})
    if not ports:
        pytest.skip("no TCP port in the data's port policy")
    target.require_behaviour()
    image = target.desired["verify"]["image"]
    for peer in peers:
        theirs = peer.desired["networks"].get("port_policy") or []
        port = next((p for p in ports if all(_admitted(r, _address(target)) for r in theirs if r["port"] == p)), None)
        if port is None or not _address(peer):
            continue
        name = "dw-verify-egress"
        peer.out(f"docker rm -f {name} >/dev/null 2>&1; docker run -d --pull never --name {name} -p {port}:8080 {shlex.quote(image)} "
                 "sh -c 'echo hello > /tmp/index.html; httpd -f -p 8080 -h /tmp'")
        try:
            rc, out = target.container("", fetch(f"http://{_address(peer)}:{port}/"), check=False)
            assert rc == 0 and out.strip() == "hello", f"a container here cannot reach {peer.name}:{port} ({rc})"
        finally:
            peer.run(f"docker rm -f {name} >/dev/null 2>&1")
        return
    pytest.skip("no peer whose own policy admits this host on those ports")
