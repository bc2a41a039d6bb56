"""The profile concerns' data: seccomp and AppArmor (names a profile may take, the network
rules it may hold: words only, never free text)."""

from .types import Bool, Int, ListOf, Name, Str, Struct

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


# AppArmor network denials by what they mean; "raw" alone would also deny netlink sockets
# (which are SOCK_RAW) and break `ip`, getifaddrs() and everything built on them.
DENY_NETWORK = ("inet-raw", "inet6-raw", "packet", "inet", "inet6", "unix", "netlink")
# An AppArmor network rule is built from these words only (apparmor.d(5): "network [DOMAIN]
# [TYPE | PROTOCOL]"): no free text reaches the profile, so no rule can close the profile's
# block and open another.
AA_FAMILIES = ("unix", "inet", "inet6", "netlink", "packet", "key", "alg", "vsock", "bluetooth", "can",
               "xdp", "mctp", "appletalk", "ax25", "ipx", "x25", "rds", "tipc", "llc", "ib", "mpls")
AA_TYPES = ("stream", "dgram", "seqpacket", "rdm", "raw", "packet", "tcp", "udp", "icmp")

SECCOMP = Struct({
    "name": Name("profile name"), "default": Bool(),
    "deny_socket_families": ListOf(Int(0, 63), unique=True),
    "deny_syscalls": ListOf(Name("syscall name"), unique=True),
})

APPARMOR = Struct({
    "name": AppArmorName(),
    "deny_network": ListOf(Str(DENY_NETWORK), unique=True),
    # {"access": "deny", "family": "inet", "type": "raw"} -> "deny network inet raw,"
    "network_rules": ListOf(Struct({"access": Str(("allow", "deny")), "family": Str(AA_FAMILIES),
                                    "type": Str(AA_TYPES)}, required=("access", "family"))),
})
