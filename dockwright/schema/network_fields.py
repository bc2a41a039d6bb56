"""The fields of a declared Docker network, in one place: each one's type in the data, the
drivers that take it, what `docker network create` is given for it and where `docker network
inspect` shows it. Validation, the DockerNetworks fact, the create command and the recreate all
read NETWORK_FIELDS."""

from dataclasses import dataclass
from typing import Any

from .types import Addr, Bool, Int, Line, MapOf, Name, Net, Struct

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
