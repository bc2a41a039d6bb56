"""Swarm membership (the leader founds, managers and workers join, a standalone host stays out)
and the encrypted overlays, created by the leader."""

from .. import dockerd, facts, model, run
from ..operations import networks, swarm
from ..plans import swarm as swarm_plans
from . import Concern, View, register


def _advertised(manager) -> str | None:
    """The leader's advertise address from its merged desired state (never host.data alone: a
    --data override of swarm keeps the group data's address in the model)."""
    return (model.desired(manager).get("swarm") or {}).get("advertise_addr")


class Swarm(Concern):
    name = "swarm"
    drift_keys = ("swarm", "overlays")

    def reads(self, v: View) -> list:
        # A standalone host's swarm state is read too: it must not be in a swarm.
        return [facts.docker_engine(), facts.swarm(), facts.overlay_modules()] if v.role else [facts.swarm()]

    def problems(self, host, v: View) -> list:
        if not v.role:
            return []
        state = facts.swarm().get(host)
        if isinstance(state, dockerd.Down):  # left to the operations, which read again then
            return []
        return swarm_plans.host_problems(v.role, facts.overlay_modules().get(host),
                                         facts.docker_engine().get(host)["version"])

    def refusal(self, host, v: View):
        """A standalone host in a swarm. (A joining node's refusal needs the leader's state at
        its turn, after the leader's own operations: the join operation decides it.)"""
        if v.role:
            return None
        state = facts.swarm().get(host)
        if isinstance(state, dockerd.Down):
            return None
        decided = swarm_plans.standalone_plan(state)
        return ("swarm", decided) if decided.refusal else None

    def apply(self, v: View) -> None:
        swarm_data, leader = v.desired["swarm"], run.of(v.host).leader  # chosen once, by preflight
        if v.role is None:
            swarm.standalone(name="swarm: standalone host stays out")
        elif v.host == leader:
            swarm.init(name="swarm: init on the first manager", advertise_addr=swarm_data["advertise_addr"])
        # One call per role: pyinfra names an operation once per line of the deploy, so a
        # shared line would show every worker as joining as a manager.
        elif v.role == "manager":
            swarm.join(name="swarm: join as manager", manager=leader, role="manager",
                       advertise_addr=swarm_data["advertise_addr"], manager_addr=_advertised(leader))
        else:
            swarm.join(name="swarm: join as worker", manager=leader, role=v.role,
                       advertise_addr=swarm_data["advertise_addr"], manager_addr=_advertised(leader))
        if v.host == leader and v.on("networks"):
            for net_name, spec in sorted(v.desired["networks"]["overlays"].items()):
                networks.overlay(name=f"overlays: {net_name}", network_name=net_name, spec=spec,
                                 allow_disconnect=v.desired["networks"]["allow_disconnect"])


register(Swarm())
