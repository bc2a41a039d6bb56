"""The network plans: a declared network field by field, the undeclared ones to prune, and the
declared subnets against the host's own routes."""

import ipaddress
import re
from dataclasses import dataclass, field

from . import Plan

_ID = re.compile(r"[0-9a-f]{12,64}")  # a local network's ID, as the engine gives it

# Docker's own networks: never pruned.
BUILTIN = frozenset({"bridge", "host", "none", "ingress", "docker_gwbridge"})


def differences(spec: dict, actual: dict) -> list[tuple[str, object, object]]:
    """(field, desired, actual) for each field the data declares that the network lacks."""
    return [(name, want, actual.get(name)) for name, want in sorted(spec.items()) if want != actual.get(name)]


@dataclass
class NetworkPlan(Plan):
    create: bool = False  # absent: create it
    recreate: bool = False  # differs: remove and create again
    attached: list = field(default_factory=list)  # containers to disconnect and reconnect around it
    fields: str = ""  # what differs, for the log
    reconnect: dict = field(default_factory=dict)  # journaled endpoints of a recreate that did not finish


def network_plan(name: str, driver: str, spec: dict, current: dict | None, allow_disconnect: bool,
                 journal: dict | None = None) -> NetworkPlan:
    """The network ``name`` against its entry in the DockerNetworks fact (None: absent). A network
    that differs while containers are attached is refused unless ``allow_disconnect``. The
    containers of a recreate's journal (NetworkJournals) that did not finish go back on it."""
    p = NetworkPlan()
    if journal:
        p.reconnect = dict(journal.get("endpoints") or {})
        p.differs(f"{name}.endpoints", "reconnected",
                  f"{', '.join(sorted(p.reconnect)) or 'none readable'} left out by a recreate that did not "
                  f"finish ({journal.get('at')})")
    if current is None:
        p.create = True
        p.differs(name, "present", "absent")
        return p
    diff = differences(spec, current)
    if current["driver"] != driver:
        diff.insert(0, ("driver", driver, current["driver"]))
    for key, want, have in diff:
        p.differs(f"{name}.{key}", want, have)
    if not diff:
        return p
    p.fields = ", ".join(f"{f}: {h!r} -> {w!r}" for f, w, h in diff)
    p.attached = list(current["containers"])
    if p.attached and not allow_disconnect:
        p.refusal = (f"network {name} differs ({p.fields}) but containers are attached: "
                     f"{', '.join(p.attached)}; set networks.allow_disconnect to recreate it")
    p.recreate = True
    return p


@dataclass
class PrunePlan(Plan):
    remove: list = field(default_factory=list)  # the IDs of the networks to remove


def prune_plan(keep, nets: dict) -> PrunePlan:
    """Local networks not in ``keep`` with no endpoint, from the DockerNetworks fact; Docker's own
    and swarm-scoped networks (their users may be tasks on other nodes) are never removed."""
    p = PrunePlan()
    for name, net in sorted(nets.items()):
        if name in BUILTIN or name in keep or net["scope"] == "swarm" or net["endpoints"]:
            continue
        if not _ID.fullmatch(net.get("id") or ""):  # removed by its ID only: a name could be "-f"
            p.problem(f"prune {name}", net.get("id"), "the engine gave no network ID; not removed")
            continue
        p.remove.append(net["id"])
        p.differs(name, "absent", "present")
    return p


def route_problems(declared: list[tuple[str, object]], routes: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(key, subnet, why) for each declared subnet that overlaps one of the host's own routes
    (the HostRoutes fact); the same subnet exactly is that network's own bridge."""
    found = []
    for key, net in declared:
        for dest, dev in routes:
            route = ipaddress.ip_network(dest, strict=False)
            if route != net and net.overlaps(route):
                found.append((key, str(net), f"overlaps the host's route {dest} on {dev}"))
    return found
