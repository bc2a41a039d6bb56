"""Bridge networks field by field, name resolution, and Docker's iptables chains."""

import ipaddress
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from dockwright import model

from . import expect, snapshot


@pytest.fixture
def bridges(target):
    return target.needs("networks")["bridges"]


def test_bridges_match_data_field_by_field(target, bridges):
    actual = snapshot.networks(target.state())
    wrong = []
    for name, spec in sorted(bridges.items()):
        wrong += expect.network_mismatches(name, spec, actual.get(name))
        if name in actual and actual[name]["Driver"] != "bridge":
            wrong.append(f"{name}.driver: {actual[name]['Driver']}")
    assert not wrong, "; ".join(wrong)


def test_bridge_dns_and_workload(target, bridges):
    """On each declared bridge, a client container (under the default profiles) resolves a peer
    by name through Docker's embedded DNS (127.0.0.11), to an address of the bridge, and
    reaches it over TCP and ICMP."""
    for name in sorted(bridges):
        got = target.bridge_view(name)
        address, subnet = got["resolve:PEER"], ipaddress.ip_network(bridges[name]["subnet"])
        wrong = [] if "nameserver 127.0.0.11" in got["read:/etc/resolv.conf"] else \
            [f"resolv.conf: {got['read:/etc/resolv.conf']!r} (want nameserver 127.0.0.11)"]
        if address == "unresolved" or ipaddress.ip_address(address) not in subnet:
            wrong.append(f"the peer resolves to {address!r} (want an address in {subnet})")
        wrong += [f"{step}: {got[step]!r} (want {want})"
                  for step, want in (("fetch:PEER:8080", "hello"), ("ping:PEER", "ok")) if got[step] != want]
        assert not wrong, f"{name}: " + "; ".join(wrong)


JUMP_SETTLE_S = 3


def test_docker_iptables_chains(target, bridges):
    daemon = target.desired["docker"]["daemon"]
    if daemon.get("iptables") is False:
        pytest.skip("data turns Docker's iptables management off")
    filt, nat = target.state()["iptables.filter"], target.state()["iptables.nat"]
    assert "-N DOCKER" in filt and "-N DOCKER-USER" in filt, "DOCKER / DOCKER-USER chains missing"
    if "-j DOCKER-USER" not in filt:
        # dockerd keeps this jump first by deleting and inserting it again whenever it sets up a
        # network (for a while after a swarm join, too): a read in between misses it. The
        # chain is read once more, a moment later, before judging.
        time.sleep(JUMP_SETTLE_S)
        filt = target.out("iptables -S FORWARD")
    assert "-j DOCKER-USER" in filt, "FORWARD does not jump to DOCKER-USER"
    for name, spec in sorted(bridges.items()):
        assert f"-s {spec['subnet']} " in nat and "MASQUERADE" in nat, \
            f"no MASQUERADE for {name} ({spec['subnet']})"


# A client at the peer's own address: bash's /dev/tcp on the peer host (no container to start),
# every port tried at once. Prints "open PORT" for each port that served "hello". A LAN answers
# in milliseconds, but a busy host (or an emulated one) may take seconds to start the client and
# answer: a dropped port costs the whole bound, and the ports are tried side by side.
REACH_SECONDS = 10
REACH = ("for p in {ports}; do (out=$(timeout " + str(REACH_SECONDS) + " bash -c 'exec 3<>/dev/tcp/{address}/'$p'; "
         "printf \"GET / HTTP/1.0\\r\\n\\r\\n\" >&3; cat <&3' 2>/dev/null); "
         "case \"$out\" in *hello*) echo open $p;; esac) & done; wait")


def _reachable_ports(peer, address: str, ports: list[int]) -> set[int] | None:
    """From the peer's own address, the ports of address that serve the page; None when the
    peer itself cannot be reached (its own checks fail for that, not this host's)."""
    cmd = REACH.format(ports=" ".join(str(int(p)) for p in ports), address=ipaddress.ip_address(address))
    res = peer.attempt(cmd)
    if res is None:
        return None
    return {int(w[1]) for w in (line.split() for line in res.stdout.splitlines()) if len(w) == 2 and w[0] == "open"}


def _address(t) -> str | None:
    """The address other hosts reach t on (and t's connections come from)."""
    return t.data.get("data_ip") or t.data.get("ssh_hostname")


def _admitted(rule: dict, source: str) -> bool:
    """Whether the rule lets a new connection from source in, read straight from the data."""
    addr = ipaddress.ip_address(source)
    nets = [ipaddress.ip_network(c, strict=False) for c in rule.get("allow_from", rule.get("deny_from", []))]
    inside = any(addr in n for n in nets if n.version == addr.version)
    return inside if "allow_from" in rule else not inside


PEERS_PER_HOST = 3  # at fleet size every peer trying every host is N² connections


def policy_peers(target, peers: list, rules: list[dict]) -> list:
    """The peers that try this host's ports: the next ones by name after it (a ring, so every
    host is tried by different ones), and beyond those, one peer for every outcome the data
    expects (admitted or refused, per rule) not covered yet. Bounded however large the fleet."""
    ring = sorted(peers, key=lambda p: (p.name <= target.name, p.name))
    chosen, seen = [], set()
    for peer in ring:
        outcome = tuple(_admitted(r, _address(peer)) for r in rules)
        if len(chosen) < PEERS_PER_HOST or outcome not in seen:
            chosen.append(peer)
            seen.add(outcome)
    return chosen


def test_port_policy_admits_exactly_whom_the_data_says(target, peers):
    """Each TCP rule of the data, tried from other hosts of the run (policy_peers: every host of
    a small run) against the probe server this host publishes on the rule's port: admitted or
    not as the data says. The same
    server published on a port no rule names is reached by every peer (the control: the check
    can fail, the network works)."""
    rules = snapshot.policy_rules(target.desired)
    if not rules:
        pytest.skip("no single-port TCP rule for IPv4 in the data")
    target.require_behaviour()
    me = _address(target)
    others = policy_peers(target, [p for p in peers if _address(p)], rules)
    if not others:
        pytest.skip("no other host in this run to connect from")
    ports, control = snapshot.served_ports(target.desired)
    target.server()
    with ThreadPoolExecutor(len(others)) as pool:  # every peer tries at once
        tried = list(pool.map(lambda peer: _reachable_ports(peer, me, [*ports, control]), others))
    # A peer that cannot be reached judges nothing here: its own checks carry its failure.
    down = [f"{peer.name} ({peer.lost})" for peer, reached in zip(others, tried) if reached is None]
    live = [(peer, reached) for peer, reached in zip(others, tried) if reached is not None]
    if not live:
        pytest.skip(f"every peer that would try this host is unreachable: {'; '.join(down)}")
    if down:
        print(f"{target.name}: port policy judged without unreachable peer(s): {'; '.join(down)}")
    wrong = []
    for peer, reached in live:
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


def test_port_policy_leaves_container_egress_alone(target, peers):
    """A container here connects out to the same port numbers on another host (where that
    host's own policy admits us): the policy filters inbound published ports only."""
    policy = target.desired["networks"].get("port_policy") if model.enabled(target.desired, "networks") else None
    ports = sorted({r["port"] for r in policy or [] if isinstance(r["port"], int) and r.get("proto", "tcp") == "tcp"})
    if not ports:
        pytest.skip("no TCP port in the data's port policy")
    target.require_behaviour()
    name = f"dw-verify-egress-{target.name}"  # its own: other hosts' checks may use the same peer
    for peer in peers:
        theirs = peer.desired["networks"].get("port_policy") or []
        # Not a port the peer's own probe server publishes (its check may be running).
        their_ports, their_control = snapshot.served_ports(peer.desired)
        busy = {*their_ports, their_control}
        for port in [p for p in ports if p not in busy and all(_admitted(r, _address(target)) for r in theirs if r["port"] == p)]:
            if not _address(peer):
                break
            res = peer.attempt(f"docker rm -f {name} >/dev/null 2>&1; "
                               f"{peer.probe_run(f'-d --rm --name {name} -p {port}:8080', 'serve', '8080', '300')}")
            if res is None:
                break  # the peer cannot be reached: its own checks say so; try another peer
            if res.rc != 0:
                assert "already allocated" in res.stderr, f"{peer.name}: {res.stderr.strip()[-300:]}"
                continue  # another host's check holds that port on this peer: try another
            try:
                step = f"fetch:{_address(peer)}:{port}"
                _, got = target.container("", [step])
                assert got.get(step) == "hello", f"a container here cannot reach {peer.name}:{port}: {got.get(step)!r}"
            finally:
                peer.attempt(f"docker rm -f {name} >/dev/null 2>&1")
            return
    pytest.skip("no peer whose own policy admits this host on those ports (and that has one free)")
