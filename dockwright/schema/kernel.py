"""The kernel concerns' data: sysctl (names, values, what Docker needs) and conntrack."""

import re

from .types import Int, MapOf, Name, OneOf, Str, Struct

SYSCTL_KEY_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_.-/")


def SysctlKey():
    def check(k, key, report):
        name = k[1:] if isinstance(k, str) and k.startswith("-") else k
        if not isinstance(name, str) or not name or set(name) - SYSCTL_KEY_CHARS or "." not in name:
            report(key, k, "not a sysctl name (e.g. net.core.somaxconn, or -name if optional)")
    return check


def SysctlValue():
    def check(v, key, report):
        if isinstance(v, bool) or not isinstance(v, (int, str)) or (
                isinstance(v, str) and not re.fullmatch(r"\s*-?\d+(\s+-?\d+)*\s*", v)):
            report(key, v, "expected an integer, or integers separated by spaces ('4096 87380 6291456')")
    return check


SYSCTL = Struct({
    "file": Name("sysctl.d file"),
    "on_override": Str(("fail", "takeover")),
    "settings": MapOf(SysctlValue(), SysctlKey()),
})

CONNTRACK = Struct({
    "max": OneOf(Int(1024, 1 << 27), Str(("auto",)), what="an integer 1024.. or 'auto'"),
    "buckets": OneOf(Int(256, 1 << 25), Str(("auto",)), what="an integer 256.. or 'auto'"),
    "timeouts": MapOf(Int(1, 1 << 31), Str(("tcp_timeout_established", "tcp_timeout_time_wait",
                                             "tcp_timeout_close_wait", "tcp_timeout_fin_wait",
                                             "tcp_timeout_syn_sent", "tcp_timeout_syn_recv",
                                             "tcp_timeout_last_ack", "tcp_timeout_close",
                                             "tcp_timeout_unacknowledged", "udp_timeout",
                                             "udp_timeout_stream", "icmp_timeout",
                                             "generic_timeout"))),
})

# Docker needs forwarding and bridge netfilter; a hardening baseline that turns them off breaks it.
DOCKER_NEEDS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.forwarding": "1",
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
}


def _rule_docker_needs(state, report):
    for key, value in state.get("sysctl", {}).get("settings", {}).items():
        name = key.lstrip("-")
        if name in DOCKER_NEEDS and str(value).strip() != DOCKER_NEEDS[name]:
            report(f"sysctl.settings.{key}", value,
                   f"Docker needs {name} = {DOCKER_NEEDS[name]} (container networking breaks otherwise)")


def _rule_conntrack_keys_in_sysctl(state, report):
    for key in state.get("sysctl", {}).get("settings", {}):
        if key.lstrip("-").startswith(("net.netfilter.nf_conntrack_", "net.nf_conntrack_max")):
            report(f"sysctl.settings.{key}", state["sysctl"]["settings"][key],
                   "conntrack keys belong in conntrack.max / conntrack.timeouts")


RULES = [_rule_docker_needs, _rule_conntrack_keys_in_sysctl]
