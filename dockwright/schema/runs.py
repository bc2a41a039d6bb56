"""The data of what runs beside the deploy: swarm membership, the verification, diagnose's
thresholds, netbench, and drift.py's policy for unattended fixes."""

import re

from .networks import declared_networks
from .types import Addr, Bool, Int, ListOf, Name, Net, Optional, Ratio, Str, Struct, network

FIX_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIXABLE = ("sysctl", "conntrack", "docker", "seccomp", "apparmor", "networks", "swarm")


def Hours():
    """A daily window "HH:MM-HH:MM" (24 h clock; it may cross midnight)."""
    pattern = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]")

    def check(v, key, report):
        if not isinstance(v, str) or not pattern.fullmatch(v) or v[:5] == v[6:]:
            report(key, v, "expected a window HH:MM-HH:MM (24 h clock), start and end different")
    return check


def TimeZone():
    def check(v, key, report):
        from zoneinfo import ZoneInfo
        try:
            ok = isinstance(v, str) and bool(v) and ZoneInfo(v) is not None
        except (ValueError, KeyError, OSError):
            ok = False
        if not ok:
            report(key, v, "expected an IANA time zone name (UTC, Europe/Berlin, America/New_York)")
    return check


DRIFT = Struct({
    "unattended": ListOf(Str(FIXABLE), unique=True),
    "window": Optional(Struct({"days": ListOf(Str(FIX_DAYS), unique=True), "hours": Hours(),
                               "timezone": TimeZone()})),
})

SWARM = Struct({
    "role": Optional(Str(("manager", "worker"))),
    "advertise_addr": Optional(Addr()),
})

VERIFY = Struct({"after_deploy": Bool(), "behaviour": Bool(), "workers": Int(0, 512)})

DIAGNOSE = Struct({
    "fail_on": Str(("critical", "warning", "info")),
    "conntrack_used_warning": Ratio(), "conntrack_used_critical": Ratio(),
    "conntrack_drops": Int(1), "conntrack_entries_per_bucket": Int(1, 1 << 20),
    "listen_overflows": Int(1), "retrans_ratio": Ratio(), "retrans_min_segments": Int(1),
    "container_nofile_min": Int(1, 1 << 30), "clock_skew_seconds": Ratio(3600.0),
})

NETBENCH = Struct({
    "allowed": Bool(),
    "subnets": Struct({"bridge": Net(4), "overlay": Net(4), "encrypted": Net(4)},
                      required=("bridge", "overlay", "encrypted")),
    "data_subnet": Optional(Net(4)), "parent": Optional(Name("interface name")), "address": Optional(Addr()),
    "seconds": Int(1, 600), "repetitions": Int(1, 100),
})


def _rule_swarm(state, report):
    swarm = state.get("swarm", {})
    if swarm.get("role") and not swarm.get("advertise_addr"):
        report("swarm.advertise_addr", None, "swarm nodes need the IPv4 address to advertise")


def _rule_diagnose(state, report):
    t = state["diagnose"]
    if t["conntrack_used_warning"] > t["conntrack_used_critical"]:
        report("diagnose.conntrack_used_warning", t["conntrack_used_warning"],
               f"above diagnose.conntrack_used_critical ({t['conntrack_used_critical']})")


def _rule_netbench_subnets(state, report):
    mine = {k: network(v) for k, v in state["netbench"]["subnets"].items()}
    for key, net in sorted(mine.items()):
        for name, other in declared_networks(state):
            if net.overlaps(other):
                report(f"netbench.subnets.{key}", str(net), f"overlaps network {name} ({other})")


RULES = [_rule_diagnose, _rule_netbench_subnets, _rule_swarm]
