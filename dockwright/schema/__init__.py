"""Typed validation of a host's merged desired state, one module per concern's data (kernel,
docker, profiles, networks, runs: swarm, verification, diagnose, netbench, drift) on the checkers
of ``types``.

Every problem is collected (not just the first) as "host: key = value: why", so one run shows
everything that needs fixing. Nothing here talks to a host.
"""

from .. import secrets
from . import docker, kernel, networks, profiles, runs
# The names the rest of dockwright reads as schema.NAME:
from .network_fields import NETWORK_FIELDS  # noqa: F401
from .networks import declared_networks  # noqa: F401
from .profiles import AA_FAMILIES, AA_TYPES  # noqa: F401
from .runs import FIXABLE  # noqa: F401
from .types import Bool, InvalidDesiredState, ListOf, Name, Problem, Str, Struct  # noqa: F401

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


SCHEMA = Struct({
    "concerns": Struct({c: Bool() for c in CONCERNS}),
    "drift": runs.DRIFT,
    "sysctl": kernel.SYSCTL, "conntrack": kernel.CONNTRACK, "docker": docker.DOCKER,
    "seccomp": profiles.SECCOMP, "apparmor": profiles.APPARMOR, "networks": networks.NETWORKS,
    "swarm": runs.SWARM, "verify": runs.VERIFY, "diagnose": runs.DIAGNOSE, "netbench": runs.NETBENCH,
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


# ---- rules across concerns ----------------------------------------------------------------------

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


# Each concern's own rules, then those across concerns.
RULES = [*kernel.RULES, *docker.RULES, *networks.RULES, *runs.RULES, _rule_live_restore_swarm]
