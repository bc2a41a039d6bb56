"""Facts: what dockwright reads from a host, one class per read (``command`` and ``process``, as
pyinfra's own facts are), in modules named for the concern they serve:

    kernel     ConntrackState, SysctlState, OverlayModules
    engine     DockerEngine, DaemonConfigCheck (a candidate daemon.json), SwarmState
    profiles   AppArmorState, ProfileCheck (a candidate profile); seccomp's file: Sha256File
    networks   DockerNetworks, NetworkJournals, HostRoutes
    firewall   PortPolicy

The layer sits below the operations and decides nothing: it imports the run's fact cache
(``factcache``: one read per host and run), and from the plans only how two reads spell their
arguments (the sysctl keys, the seccomp profile's path).

Each read a run makes is declared once below, with its arguments: preflight's one-round-trip
prefetch (the concerns' ``reads``, dockwright.concerns) and the operations both go through these
declarations, so they can never ask a host two different questions for one answer (the fact
cache is keyed by the arguments: a second spelling would be a second round trip). The candidate
checks (DaemonConfigCheck, ProfileCheck) are not prefetched: they are asked only when a file
would change.
"""

from typing import NamedTuple

from .. import factcache
from ..plans import seccomp as seccomp_plans, sysctl as sysctl_plans
from .engine import DockerEngine, SwarmState
from .firewall import PortPolicy
from .kernel import ConntrackState, OverlayModules, SysctlState
from .networks import DockerNetworks, HostRoutes, NetworkJournals
from .profiles import AppArmorState, Sha256File


class Read(NamedTuple):
    """One fact with its arguments: what the fact cache keys a read by."""
    fact: type
    args: dict

    def get(self, host):
        """The answer, read once per host and run (dockwright.factcache)."""
        return factcache.get(host, self.fact, **self.args)


def _without_arguments(fact: type):
    """The declaration of a read that takes no argument: ``facts.NAME()`` is its Read."""
    def read() -> Read:
        return Read(fact, {})
    read.__doc__ = f"The {fact.__name__} read."
    return read


conntrack = _without_arguments(ConntrackState)
docker_engine = _without_arguments(DockerEngine)
docker_networks = _without_arguments(DockerNetworks)
network_journals = _without_arguments(NetworkJournals)
routes = _without_arguments(HostRoutes)
port_policy = _without_arguments(PortPolicy)
swarm = _without_arguments(SwarmState)
overlay_modules = _without_arguments(OverlayModules)


def sysctls(names) -> Read:
    """The live and boot values of these keys ("-key" and "key" are one key)."""
    return Read(SysctlState, {"keys": sysctl_plans.fact_keys(names)})


def seccomp_file(profile_name: str) -> Read:
    return Read(Sha256File, {"path": seccomp_plans.path_for(profile_name)})


def apparmor(profile_name: str) -> Read:
    return Read(AppArmorState, {"profile_name": profile_name})


# The order a host's reads are sent in, whatever the concerns asking for them: the combined
# command is then the same for the same reads (replayed recordings match it by its text).
ORDER = (ConntrackState, SysctlState, DockerEngine, Sha256File, AppArmorState, DockerNetworks, NetworkJournals,
         PortPolicy, HostRoutes, SwarmState, OverlayModules)


def in_order(wanted: list[Read]) -> list[Read]:
    """wanted, each read once, in ORDER (reads of other facts after those, as asked)."""
    unique = {factcache.key(r.fact, r.args): r for r in wanted}
    rank = {fact: i for i, fact in enumerate(ORDER)}
    return sorted(unique.values(), key=lambda r: rank.get(r.fact, len(ORDER)))
