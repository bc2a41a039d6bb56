"""Typed validation of a host's merged desired state.

Every problem is collected (not just the first) as "host: key = value: why", so one run shows
everything that needs fixing. Nothing here talks to a host.
"""

import difflib
import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from pyinfra.api.exceptions import DeployError

from . import secrets


@dataclass(frozen=True)
class Problem:
    host: str
    key: str
    value: Any
    why: str

    def __str__(self) -> str:
        return f"{self.host}: {self.key} = {self.value!r}: {self.why}"


class InvalidDesiredState(DeployError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"dockwright: {len(problems)} problem(s) in the desired state, "
                         f"no host was changed:\n{lines}")


# ---- field types -------------------------------------------------------------------------------
# A checker takes (value, key, report) and reports problems; nested types recurse with longer keys.



def Bool():
    def check(v, key, report):
        if not isinstance(v, bool):
            report(key, v, "expected true or false")
    return check


def Int(lo: int | None = None, hi: int | None = None):
    def check(v, key, report):
        if isinstance(v, bool) or not isinstance(v, int):
            report(key, v, "expected an integer")
        elif (lo is not None and v < lo) or (hi is not None and v > hi):
            report(key, v, f"expected {lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}")
    return check


def Ratio(hi: float = 1.0):
    """A number in (0, hi] (an int is taken as a float; a bool is not a number here)."""
    def check(v, key, report):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= hi:
            report(key, v, f"expected a number above 0 and at most {hi}")
    return check


def Str(choices: tuple | None = None, nonempty: bool = True):
    def check(v, key, report):
        if not isinstance(v, str) or (nonempty and not v):
            report(key, v, "expected a non-empty string")
        elif choices and v not in choices:
            report(key, v, f"expected one of {', '.join(map(str, choices))}")
    check.kind = "choice" if choices else "text"
    return check


# Strict patterns for every string that names something on a host (a file, a profile, a
# network, an image, an interface). Such values reach remote commands, so they are checked
# here, and quoted where they are used as well.
PATTERNS = {
    # Docker's own rule for network names, and short enough for any tool that prints them.
    "network name": r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}",
    # Profile and file names: a file name in /etc/apparmor.d or /etc/docker/seccomp.
    "profile name": r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}",
    # Linux interface names: at most 15 characters, no slash or space.
    "interface name": r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\+?",
    "syscall name": r"[a-z0-9_]{1,64}",
    "absolute path": r"(/[A-Za-z0-9_.@+-]+)+",
    "sysctl.d file": r"/etc/sysctl\.d/[A-Za-z0-9_.-]+\.conf",
    "label key": r"[A-Za-z0-9][A-Za-z0-9_./-]{0,127}",
    "word": r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}",
    "port range": r"[0-9]{1,5}-[0-9]{1,5}",
}


def Name(kind: str):
    """A string that must match PATTERNS[kind] in full (and hold no '..' path step)."""
    pattern = re.compile(PATTERNS[kind])

    def check(v, key, report):
        if not isinstance(v, str) or not pattern.fullmatch(v) or ".." in v.split("/") or \
                "/../" in v or v.endswith("/.."):
            report(key, v, f"not a valid {kind} (must match {PATTERNS[kind]})")
    check.kind = "name"
    return check


# Names in /etc/apparmor.d that belong to AppArmor or Docker: a profile of ours by that name
# would replace a directory's place, the base of every profile, or Docker's own profile.
AA_RESERVED = frozenset({"docker-default", "unconfined", "tunables", "abstractions", "abi", "local",
                         "disable", "force-complain", "cache", "default"})


def AppArmorName():
    name = Name("profile name")

    def check(v, key, report):
        name(v, key, report)
        if isinstance(v, str) and (v in AA_RESERVED or v.startswith(("usr.", "sbin.", "bin.", "lsb_release"))):
            report(key, v, "a name AppArmor, Docker or a system profile uses in /etc/apparmor.d; choose another")
    check.kind = "name"
    return check


def Line():
    """Free text on one line (no control characters): it is quoted wherever it is used."""
    def check(v, key, report):
        if not isinstance(v, str) or not v or any(ord(c) < 32 or ord(c) == 127 for c in v):
            report(key, v, "expected a non-empty string on one line, without control characters")
    check.kind = "text"
    return check


def Optional(inner):
    def check(v, key, report):
        if v is not None:
            inner(v, key, report)
    check.parts = {"inner": inner}
    return check


def OneOf(*checkers, what: str):
    def check(v, key, report):
        for c in checkers:
            errs = []
            c(v, key, lambda *a: errs.append(a))
            if not errs:
                return
        report(key, v, f"expected {what}")
    check.parts = {f"option{i}": c for i, c in enumerate(checkers)}
    return check


# What an address or network may be written with: Python's ipaddress also takes IPv6 scope IDs
# ("fe80::1%eth0"), and a scope ID may hold any character but "%" and "/", newlines included,
# which would reach a rules file or a command line. Scope IDs are refused everywhere.
PLAIN_ADDRESS = re.compile(r"[0-9A-Fa-f.:]+(/[0-9]{1,3})?")


def _plain(v, key, report) -> bool:
    if isinstance(v, str) and PLAIN_ADDRESS.fullmatch(v):
        return True
    report(key, v, "not a plain IP address or network (digits, hex, '.', ':' and one '/prefix'; "
                   "IPv6 scope IDs are refused)")
    return False


@functools.lru_cache(maxsize=4096)
def _parse_network(text: str):
    return ipaddress.ip_network(text)


def network(v) -> "ipaddress._BaseNetwork":
    """ipaddress.ip_network (strict), parsed once per text: a fleet's hosts share their subnets,
    and every run validates every host's."""
    return _parse_network(v) if isinstance(v, str) else ipaddress.ip_network(v)


def Net(version: int | None = None):
    def check(v, key, report):
        if not _plain(v, key, report):
            return
        try:
            net = network(v)
        except (TypeError, ValueError) as e:
            report(key, v, f"not a CIDR network ({e})")
            return
        if version and net.version != version:
            report(key, v, f"expected an IPv{version} network")
    return check


def _parsed(parse, why: str):
    """A checker for plain address values parse accepts; why may name the parser's error as {e}."""
    def check(v, key, report):
        if not _plain(v, key, report):
            return
        try:
            parse(v)
        except (TypeError, ValueError) as e:
            report(key, v, why.format(e=e))
    return check


def _interface(v):
    ipaddress.ip_interface(v)
    if "/" not in str(v):
        raise ValueError("no prefix length")


def Iface():
    """An address with prefix, e.g. docker's bip 172.17.0.1/16."""
    return _parsed(_interface, "not an address/prefix ({e})")


def Addr():
    return _parsed(ipaddress.ip_address, "not an IP address")


def ListOf(inner, unique: bool = False):
    def check(v, key, report):
        if not isinstance(v, list):
            report(key, v, "expected a list")
            return
        for i, item in enumerate(v):
            inner(item, f"{key}[{i}]", report)
        if unique and len({repr(x) for x in v}) != len(v):
            report(key, v, "duplicate entries")
    check.parts = {"item": inner}
    return check


def MapOf(value_checker, key_checker=None):
    def check(v, key, report):
        if not isinstance(v, dict):
            report(key, v, "expected a mapping")
            return
        for k, item in v.items():
            if key_checker:
                key_checker(k, f"{key}.{k}", report)
            value_checker(item, f"{key}.{k}", report)
    check.parts = {"key": key_checker or _free_key, "value": value_checker}
    return check


def Struct(fields: dict, required: tuple = (), open_keys: bool = False):
    """A mapping with known keys; an unknown key is an error unless open_keys."""
    def check(v, key, report):
        if not isinstance(v, dict):
            report(key, v, "expected a mapping")
            return
        for k, item in v.items():
            sub = f"{key}.{k}" if key else k
            if k in fields:
                fields[k](item, sub, report)
            elif not open_keys:
                report(sub, item, _unknown(k, fields, key))
        for k in required:
            if k not in v:
                report(f"{key}.{k}", None, "required key is missing")
    check.fields = fields
    return check


def _unknown(name, fields, parent) -> str:
    close = difflib.get_close_matches(str(name), list(fields), n=1)
    hint = f"did you mean {close[0]!r}?" if close else (
        f"known: {', '.join(sorted(fields))}" if len(fields) <= 12 else "see README, Data model")
    if parent == "docker.daemon":
        hint += " (keys dockwright does not model go in docker.passthrough)"
    return f"unknown key; {hint}"


def _free_key(v, key, report):
    """Map keys that are not checked (docker.passthrough: dockerd judges them)."""


_free_key.kind = "text"


def Any_():
    def check(v, key, report):
        pass
    return check


# ---- per concern ----------------------------------------------------------------------------------

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

ULIMIT = Struct({"Name": Str(), "Soft": Int(-1), "Hard": Int(-1)}, required=("Name", "Soft", "Hard"))

# Keys of daemon.json that dockwright knows, with their types. A key not here must go in
# docker.passthrough, deliberately.
DAEMON_KEYS = {
    "log-level": Str(("debug", "info", "warn", "error", "fatal")),
    "log-driver": Name("word"),
    "log-opts": MapOf(Line(), Name("word")),  # dockerd rejects non-string log-opts
    "default-ulimits": MapOf(ULIMIT),
    "icc": Bool(),
    "userland-proxy": Bool(),
    "no-new-privileges": Bool(),
    "live-restore": Bool(),
    "iptables": Bool(),
    "ip6tables": Bool(),
    "ip-forward": Bool(),
    "ip-masq": Bool(),
    "ipv6": Bool(),
    "fixed-cidr-v6": Net(6),
    "mtu": Int(68, 65535),
    "bip": Iface(),
    "fixed-cidr": Net(4),
    "default-address-pools": ListOf(Struct({"base": Net(), "size": Int(1, 128)}, required=("base", "size"))),
    "storage-driver": Name("word"),
    "data-root": Name("absolute path"),
    "exec-root": Name("absolute path"),
    "seccomp-profile": OneOf(Name("absolute path"), Str(("builtin", "unconfined")),
                             what="an absolute path, 'builtin' or 'unconfined'"),
    "userns-remap": Name("word"),
    "debug": Bool(),
    "experimental": Bool(),
    "max-concurrent-downloads": Int(1),
    "max-concurrent-uploads": Int(1),
    "shutdown-timeout": Int(0),
    "dns": ListOf(Addr()),
    "registry-mirrors": ListOf(Line()),
    "insecure-registries": ListOf(Line()),
    "features": MapOf(Bool(), Name("word")),
    "metrics-addr": Line(),
    "exec-opts": ListOf(Line()),
    "labels": ListOf(Line()),
    "default-runtime": Name("word"),
    "runtimes": MapOf(Struct({"path": Name("absolute path"), "runtimeArgs": ListOf(Line())}),
                      Name("word")),
    "hosts": ListOf(Line()),
    "containerd": Name("absolute path"),
    "firewall-backend": Str(("iptables", "nftables")),
    "selinux-enabled": Bool(),
}

# AppArmor network denials by what they mean; "raw" alone would also deny netlink sockets
# (which are SOCK_RAW) and break `ip`, getifaddrs() and everything built on them.
DENY_NETWORK = ("inet-raw", "inet6-raw", "packet", "inet", "inet6", "unix", "netlink")
# An AppArmor network rule is built from these words only (apparmor.d(5): "network [DOMAIN]
# [TYPE | PROTOCOL]"): no free text reaches the profile, so no rule can close the profile's
# block and open another.
AA_FAMILIES = ("unix", "inet", "inet6", "netlink", "packet", "key", "alg", "vsock", "bluetooth", "can",
               "xdp", "mctp", "appletalk", "ax25", "ipx", "x25", "rds", "tipc", "llc", "ib", "mpls")
AA_TYPES = ("stream", "dgram", "seqpacket", "rdm", "raw", "packet", "tcp", "udp", "icmp")

# Docker's option names for the fields that `docker network create` takes as --opt.
MTU_OPT = "com.docker.network.driver.mtu"
ICC_OPT = "com.docker.network.bridge.enable_icc"
BRIDGE_NAME_OPT = "com.docker.network.bridge.name"


@dataclass(frozen=True)
class NetworkField:
    """One field of a declared network, in one place: its type in the data, the drivers that take
    it, the arguments `docker network create` is given for a value, and where `docker network
    inspect` shows it, ``(network, its IPv4 IPAM config, its options) -> value`` as the data
    writes it. Validation, the DockerNetworks fact, the create command and the recreate all read
    NETWORK_FIELDS."""
    type: Any
    drivers: tuple
    create: Any
    inspect: Any


def _flag(flag: str):
    return lambda v: [flag] if v else []


BOTH, BRIDGE_ONLY, OVERLAY_ONLY = ("bridge", "overlay"), ("bridge",), ("overlay",)
# In the order `docker network create` is given them.
NETWORK_FIELDS = {
    "subnet": NetworkField(Net(), BOTH, lambda v: ["--subnet", v], lambda n, v4, o: v4.get("Subnet")),
    "gateway": NetworkField(Addr(), BOTH, lambda v: ["--gateway", v] if v else [], lambda n, v4, o: v4.get("Gateway")),
    "ip_range": NetworkField(Net(), BRIDGE_ONLY, lambda v: ["--ip-range", v] if v else [],
                             lambda n, v4, o: v4.get("IPRange") or None),
    "aux_addresses": NetworkField(
        MapOf(Addr()), BRIDGE_ONLY, lambda v: [a for k, addr in sorted(v.items()) for a in ("--aux-address", f"{k}={addr}")],
        lambda n, v4, o: v4.get("AuxiliaryAddresses") or {}),
    "mtu": NetworkField(Int(68, 65535), BOTH, lambda v: ["--opt", f"{MTU_OPT}={v}"] if v else [],
                        lambda n, v4, o: int(o[MTU_OPT]) if o.get(MTU_OPT) else None),
    # Docker's default is true: an explicit false is the only value that matters, so it is always sent.
    "icc": NetworkField(Bool(), BRIDGE_ONLY, lambda v: ["--opt", f"{ICC_OPT}={'true' if v else 'false'}"],
                        lambda n, v4, o: o.get(ICC_OPT, "true") == "true"),
    "bridge_name": NetworkField(Name("interface name"), BRIDGE_ONLY,
                                lambda v: ["--opt", f"{BRIDGE_NAME_OPT}={v}"] if v else [],
                                lambda n, v4, o: o.get(BRIDGE_NAME_OPT)),
    "encrypted": NetworkField(Bool(), OVERLAY_ONLY, lambda v: ["--opt", "encrypted"] if v else [],
                              lambda n, v4, o: "encrypted" in o),
    "attachable": NetworkField(Bool(), OVERLAY_ONLY, _flag("--attachable"), lambda n, v4, o: bool(n.get("Attachable"))),
    "internal": NetworkField(Bool(), BRIDGE_ONLY, _flag("--internal"), lambda n, v4, o: bool(n.get("Internal"))),
    "ipv6": NetworkField(Bool(), BRIDGE_ONLY, _flag("--ipv6"), lambda n, v4, o: bool(n.get("EnableIPv6"))),
    "labels": NetworkField(MapOf(Line(), Name("label key")), BOTH,
                           lambda v: [a for k, val in sorted(v.items()) for a in ("--label", f"{k}={val}")],
                           lambda n, v4, o: n.get("Labels") or {}),
}


def _network(driver: str):
    return Struct({k: f.type for k, f in NETWORK_FIELDS.items() if driver in f.drivers}, required=("subnet",))


BRIDGE, OVERLAY = _network("bridge"), _network("overlay")

# The concerns dockwright manages, in deploy order: each has a switch in `concerns` and a section
# of its own (group_data/all.py sets every switch).
CONCERNS = ("sysctl", "conntrack", "docker", "seccomp", "apparmor", "networks", "swarm", "verify", "diagnose",
            "netbench")

# Data sections that are not concerns (no switch): drift.py's policy for unattended fixes.
SECTIONS = ("drift",)

# Concerns added with dockwright.concerns.register, each with its section's defaults.
_ADDED: dict[str, dict] = {}


def concern_names() -> tuple[str, ...]:
    """Every concern's switch: the builtin ones, then those registered since."""
    return (*CONCERNS, *_ADDED)


def data_keys() -> tuple[str, ...]:
    """The top-level names of a host's desired state (what model merges)."""
    return ("concerns", *concern_names(), *SECTIONS)


def added_defaults() -> dict[str, dict]:
    """The registered concerns' sections, with their defaults (the lowest layer of the data)."""
    return {name: {**defaults} for name, defaults in _ADDED.items()}


def add_concern(name: str, section, defaults: dict) -> None:
    """A new concern's switch and data section, checked like the builtin ones."""
    if name in SCHEMA.fields or name in SCHEMA.fields["concerns"].fields:
        raise ValueError(f"the data already has a section named {name!r}")
    SCHEMA.fields["concerns"].fields[name] = Bool()
    SCHEMA.fields[name] = section
    _ADDED[name] = defaults


def remove_concern(name: str) -> None:
    if _ADDED.pop(name, None) is not None:
        del SCHEMA.fields[name], SCHEMA.fields["concerns"].fields[name]


def enabled(state: dict, concern: str) -> bool:
    """Whether the data switches concern on. group_data/all.py names every concern (a unit test
    holds it to that), so the default here is never what decides."""
    return bool(state.get("concerns", {}).get(concern, False))
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


SCHEMA = Struct({
    "concerns": Struct({c: Bool() for c in CONCERNS}),
    "drift": Struct({
        "unattended": ListOf(Str(FIXABLE), unique=True),
        "window": Optional(Struct({"days": ListOf(Str(FIX_DAYS), unique=True), "hours": Hours(),
                                   "timezone": TimeZone()})),
    }),
    "sysctl": Struct({
        "file": Name("sysctl.d file"),
        "on_override": Str(("fail", "takeover")),
        "settings": MapOf(SysctlValue(), SysctlKey()),
    }),
    "conntrack": Struct({
        "max": OneOf(Int(1024, 1 << 27), Str(("auto",)), what="an integer 1024.. or 'auto'"),
        "buckets": OneOf(Int(256, 1 << 25), Str(("auto",)), what="an integer 256.. or 'auto'"),
        "timeouts": MapOf(Int(1, 1 << 31), Str(("tcp_timeout_established", "tcp_timeout_time_wait",
                                                 "tcp_timeout_close_wait", "tcp_timeout_fin_wait",
                                                 "tcp_timeout_syn_sent", "tcp_timeout_syn_recv",
                                                 "tcp_timeout_last_ack", "tcp_timeout_close",
                                                 "tcp_timeout_unacknowledged", "udp_timeout",
                                                 "udp_timeout_stream", "icmp_timeout",
                                                 "generic_timeout"))),
    }),
    "docker": Struct({
        "package": Str(("docker.io", "docker-ce")),
        "restart_batch": Int(1, 1000),
        "allow_container_stop": Bool(),
        "retry_failed": Bool(),
        "health_timeout": Int(10, 3600),
        "passthrough": MapOf(Any_()),
        "secret_keys": ListOf(Name("label key"), unique=True),
        "daemon": Struct(DAEMON_KEYS),
    }),
    "seccomp": Struct({
        "name": Name("profile name"), "default": Bool(),
        "deny_socket_families": ListOf(Int(0, 63), unique=True),
        "deny_syscalls": ListOf(Name("syscall name"), unique=True),
    }),
    "apparmor": Struct({
        "name": AppArmorName(),
        "deny_network": ListOf(Str(DENY_NETWORK), unique=True),
        # {"access": "deny", "family": "inet", "type": "raw"} -> "deny network inet raw,"
        "network_rules": ListOf(Struct({"access": Str(("allow", "deny")), "family": Str(AA_FAMILIES),
                                        "type": Str(AA_TYPES)}, required=("access", "family"))),
    }),
    "networks": Struct({
        "bridges": MapOf(BRIDGE, Name("network name")),
        "overlays": MapOf(OVERLAY, Name("network name")),
        "prune": Bool(),
        "allow_disconnect": Bool(),
        "port_policy": ListOf(Struct({
            "port": OneOf(Int(1, 65535), Name("port range"), what="a port or a range 'LOW-HIGH'"),
            "proto": Str(("tcp", "udp")),
            "allow_from": ListOf(Net()), "deny_from": ListOf(Net()),
            "in_interface": Name("interface name"),
            "family": Str(("ipv4", "ipv6", "both")),
        }, required=("port",))),
    }),
    "swarm": Struct({
        "role": Optional(Str(("manager", "worker"))),
        "advertise_addr": Optional(Addr()),
    }),
    "verify": Struct({"after_deploy": Bool(), "behaviour": Bool(), "workers": Int(0, 512)}),
    "diagnose": Struct({
        "fail_on": Str(("critical", "warning", "info")),
        "conntrack_used_warning": Ratio(), "conntrack_used_critical": Ratio(),
        "conntrack_drops": Int(1), "conntrack_entries_per_bucket": Int(1, 1 << 20),
        "listen_overflows": Int(1), "retrans_ratio": Ratio(), "retrans_min_segments": Int(1),
        "container_nofile_min": Int(1, 1 << 30), "clock_skew_seconds": Ratio(3600.0),
    }),
    "netbench": Struct({
        "allowed": Bool(),
        "subnets": Struct({"bridge": Net(4), "overlay": Net(4), "encrypted": Net(4)},
                          required=("bridge", "overlay", "encrypted")),
        "data_subnet": Optional(Net(4)), "parent": Optional(Name("interface name")), "address": Optional(Addr()),
        "seconds": Int(1, 600), "repetitions": Int(1, 100),
    }),
})

# group_data/all.py's environment_groups (the groups whose data comes before the role groups',
# model.layers) is not part of a host's merged state: it is checked on its own.
ENVIRONMENT_GROUPS = ListOf(Name("word"))


def validate_inventory_data(data: dict) -> list[Problem]:
    """Problems with the inventory-wide data that does not merge into hosts (group_data/all.py)."""
    problems: list[Problem] = []
    if "environment_groups" in data:
        ENVIRONMENT_GROUPS(data["environment_groups"], "environment_groups",
                           lambda key, value, why: problems.append(Problem("all", key, value, why)))
    return problems


def validate(host: str, state: dict) -> list[Problem]:
    """All problems with one host's merged state: types, ranges, known keys, then the rules
    that span keys (network overlaps, live-restore on swarm nodes, Docker's kernel needs)."""
    problems: list[Problem] = []
    docker = state.get("docker") if isinstance(state.get("docker"), dict) else {}
    secret_keys = [k for k in docker.get("secret_keys", []) if isinstance(k, str)] \
        if isinstance(docker.get("secret_keys"), list) else []

    def report(key, value, why):
        for section in ("docker.daemon", "docker.passthrough"):  # an error must not show a credential
            if key == section:
                value = secrets.shown(value, "", secret_keys)
            elif key.startswith(section + "."):
                value = secrets.shown(value, key[len(section) + 1:], secret_keys)
        problems.append(Problem(host, key, value, why))

    SCHEMA(state, "", report)
    for rule in RULES:
        try:
            rule(state, report)
        except (TypeError, ValueError, KeyError, AttributeError):
            pass  # the part this rule reads is malformed, which the schema has reported
    return problems


# ---- rules across keys ---------------------------------------------------------------------------

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


def _daemon_json(state) -> dict:
    """daemon.json's keys as dockerd reads the file: modelled keys, then passthrough."""
    docker = state.get("docker", {}) if isinstance(state.get("docker"), dict) else {}
    daemon, passthrough = docker.get("daemon", {}), docker.get("passthrough", {})
    return {**(daemon if isinstance(daemon, dict) else {}), **(passthrough if isinstance(passthrough, dict) else {})}


def _rule_live_restore_swarm(state, report):
    daemon = _daemon_json(state)
    role = state.get("swarm", {}).get("role")
    if daemon.get("live-restore") and role and enabled(state, "swarm"):
        report("docker.daemon.live-restore", True,
               f"dockerd refuses to start with live-restore in swarm mode (swarm.role = {role}); "
               "set it only for standalone hosts")
    if daemon.get("firewall-backend") == "nftables" and role:
        report("docker.daemon.firewall-backend", "nftables",
               "dockerd does not support the nftables firewall backend in swarm mode")


def _rule_passthrough(state, report):
    docker = state.get("docker", {})
    for key, value in docker.get("passthrough", {}).items():
        if key in docker.get("daemon", {}):
            report(f"docker.passthrough.{key}", value, "also set in docker.daemon; set it once")


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


def _rule_swarm(state, report):
    swarm = state.get("swarm", {})
    if swarm.get("role") and not swarm.get("advertise_addr"):
        report("swarm.advertise_addr", None, "swarm nodes need the IPv4 address to advertise")


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


RULES = [_rule_diagnose, _rule_netbench_subnets, _rule_port_policy, _rule_docker_needs, _rule_conntrack_keys_in_sysctl, _rule_live_restore_swarm,
         _rule_passthrough, _rule_overlaps, _rule_network_fields, _rule_swarm]
