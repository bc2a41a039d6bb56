"""Facts: what dockwright reads from a host, one class per read (``command`` and ``process``, as
pyinfra's own facts are), in modules named for the concern they serve:

    kernel     ConntrackState, SysctlState
    engine     DockerEngine, DaemonConfigCheck (a candidate daemon.json), SwarmState
    profiles   AppArmorState, ProfileCheck (a candidate profile); seccomp's file: Sha256File
    networks   DockerNetworks, NetworkJournals, HostRoutes
    firewall   PortPolicy

The layer sits below the operations: it imports none of them. It does import the run's fact
cache (``factcache``: one read per host and run) and, for ``reads``, the plans whose answers
decide which reads a host needs; moving those decisions into the plans is the next layering step.

Each read a run makes is declared once below, with its arguments: preflight's one-round-trip
prefetch (``reads``) and the operations both go through these declarations, so they can never
ask a host two different questions for one answer (the fact cache is keyed by the arguments:
a second spelling would be a second round trip). The candidate checks (DaemonConfigCheck,
ProfileCheck) are not prefetched: they are asked only when a file would change.
"""

from typing import NamedTuple

from .. import factcache, model, schema
from ..plans import apparmor as apparmor_plans, docker as docker_plans, seccomp as seccomp_plans, sysctl as sysctl_plans
from .engine import DockerEngine, SwarmState
from .firewall import PortPolicy
from .kernel import ConntrackState, SysctlState
from .networks import DockerNetworks, HostRoutes, NetworkJournals
from .profiles import APPARMOR_DIR, AppArmorState, ProfileCheck, Sha256File


class Read(NamedTuple):
    """One fact with its arguments: what the fact cache keys a read by."""
    fact: type
    args: dict

    def get(self, host):
        """The answer, read once per host and run (dockwright.factcache)."""
        return factcache.get(host, self.fact, **self.args)


def conntrack() -> Read:
    return Read(ConntrackState, {})


def sysctls(names) -> Read:
    """The live and boot values of these keys ("-key" and "key" are one key)."""
    return Read(SysctlState, {"keys": sysctl_plans.fact_keys(names)})


def docker_engine() -> Read:
    return Read(DockerEngine, {})


def seccomp_file(profile_name: str) -> Read:
    return Read(Sha256File, {"path": seccomp_plans.path_for(profile_name)})


def apparmor(profile_name: str) -> Read:
    return Read(AppArmorState, {"profile_name": profile_name})


def docker_networks() -> Read:
    return Read(DockerNetworks, {})


def network_journals() -> Read:
    return Read(NetworkJournals, {})


def routes() -> Read:
    return Read(HostRoutes, {})


def port_policy() -> Read:
    return Read(PortPolicy, {})


def swarm() -> Read:
    return Read(SwarmState, {})


def swarm_if_needed(host, daemon_json: str) -> dict | None:
    """The swarm state when this daemon.json needs it (live-restore, which dockerd refuses on a
    swarm node), else None: the engine fact does not call `docker info`."""
    return swarm().get(host) if docker_plans.needs_swarm_state(daemon_json) else None


def apparmor_decision(host, name: str, content: str, source=None):
    """The AppArmor plan for this profile on host, with the parser's verdict on the candidate
    (ProfileCheck) read only when the file would change: the operation and preflight both ask
    here."""
    return apparmor_plans.decide(name, f"{APPARMOR_DIR}/{name}", content, apparmor(name).get(host),
                                 lambda candidate: factcache.get(host, ProfileCheck, content=candidate), source)


def reads(desired: dict) -> list[Read]:
    """Every read a run makes on a host with this desired state, for the concerns enabled there:
    preflight sends them all in one round trip (factcache.prefetch)."""
    on = lambda concern: model.enabled(desired, concern)  # noqa: E731
    role = on("swarm") and desired["swarm"]["role"]
    wanted = [conntrack()] if on("conntrack") else []
    if on("sysctl"):
        wanted.append(sysctls(model.managed_sysctl_names(desired)))
    if on("docker") or role:
        wanted.append(docker_engine())
    if on("seccomp"):
        wanted.append(seccomp_file(desired["seccomp"]["name"]))
    if on("apparmor"):
        wanted.append(apparmor(desired["apparmor"]["name"]))
    if on("networks"):
        wanted += [docker_networks(), network_journals(), port_policy()]
        if schema.declared_networks(desired):
            wanted.append(routes())
    if on("swarm") or (on("docker") and docker_plans.needs_swarm_state(docker_plans.render(desired))):
        wanted.append(swarm())
    return wanted
