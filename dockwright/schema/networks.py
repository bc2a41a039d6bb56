"""The networks concern's data: declared bridges and overlays, prune, and the port policy;
the subnets the data claims, which must not overlap."""

import ipaddress

from .network_fields import BRIDGE, OVERLAY
from .types import Bool, Int, ListOf, MapOf, Name, Net, OneOf, Str, Struct, network

NETWORKS = Struct({
    "bridges": MapOf(BRIDGE, Name("network name")),
    "overlays": MapOf(OVERLAY, Name("network name")),
    "prune": Bool(),
    "allow_disconnect": Bool(),
    "on_foreign_rules": Str(("fail", "takeover")),
    "port_policy": ListOf(Struct({
        "port": OneOf(Int(1, 65535), Name("port range"), what="a port or a range 'LOW-HIGH'"),
        "proto": Str(("tcp", "udp")),
        "allow_from": ListOf(Net()), "deny_from": ListOf(Net()),
        "in_interface": Name("interface name"),
        "family": Str(("ipv4", "ipv6", "both")),
    }, required=("port",))),
}, required=("on_foreign_rules",))


def declared_networks(state) -> list[tuple[str, ipaddress._BaseNetwork]]:
    """(key, network) for every subnet the data claims: bridges, overlays, pools, bip."""
    nets = []
    for kind in ("bridges", "overlays"):
        for name, net in state.get("networks", {}).get(kind, {}).items():
            nets.append((f"networks.{kind}.{name}.subnet", network(net["subnet"])))
    daemon = state.get("docker", {}).get("daemon", {})
    for i, pool in enumerate(daemon.get("default-address-pools", [])):
        nets.append((f"docker.daemon.default-address-pools[{i}].base", network(pool["base"])))
    if "bip" in daemon:
        nets.append(("docker.daemon.bip", ipaddress.ip_interface(daemon["bip"]).network))
    return nets


def _rule_overlaps(state, report):
    nets = declared_networks(state)
    for i, (key_a, a) in enumerate(nets):
        for key_b, b in nets[i + 1:]:
            if a.version == b.version and a.overlaps(b):
                report(key_a, str(a), f"overlaps {key_b} = {b}")


def _rule_network_fields(state, report):
    for kind in ("bridges", "overlays"):
        for name, net in state.get("networks", {}).get(kind, {}).items():
            subnet = network(net["subnet"])
            for field in ("gateway",):
                if field in net and ipaddress.ip_address(net[field]) not in subnet:
                    report(f"networks.{kind}.{name}.{field}", net[field], f"not inside subnet {subnet}")
            if "ip_range" in net and not network(net["ip_range"]).subnet_of(subnet):
                report(f"networks.{kind}.{name}.ip_range", net["ip_range"], f"not inside subnet {subnet}")
            for aux, addr in net.get("aux_addresses", {}).items():
                if ipaddress.ip_address(addr) not in subnet:
                    report(f"networks.{kind}.{name}.aux_addresses.{aux}", addr, f"not inside subnet {subnet}")


def _rule_port_policy(state, report):
    policy = state.get("networks", {}).get("port_policy") or []
    for i, rule in enumerate(policy):
        key = f"networks.port_policy[{i}]"
        if ("allow_from" in rule) == ("deny_from" in rule):
            report(key, rule, "give exactly one of allow_from (only these sources) or deny_from")
        port = rule.get("port")
        if isinstance(port, str) and "-" in port:
            low, high = (int(x) for x in port.split("-"))
            if not 1 <= low <= high <= 65535:
                report(f"{key}.port", port, "expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535")
    # Whether dockerd keeps a DOCKER-USER chain at all (iptables off, the nftables backend) is
    # judged per host, from daemon.json and the unit's own flags: plans/firewall.backend_problem.


RULES = [_rule_port_policy, _rule_overlaps, _rule_network_fields]
