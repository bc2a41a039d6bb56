"""The swarm plans: membership as the data gives it (founder, joiner, standalone), and what the
host must have for encrypted overlays."""

from dataclasses import dataclass

from . import Plan

# CVE-2023-28841: encrypted overlays could send cleartext on engines before these.
SAFE_ENGINES = ((20, 10, 24), (23, 0, 3))


def engine_problem(version: tuple | None) -> str | None:
    if version is None:
        return "engine version unknown"
    if version < SAFE_ENGINES[0] or ((23, 0, 0) <= version < SAFE_ENGINES[1]):
        return (f"engine {'.'.join(map(str, version))} can send encrypted-overlay traffic in "
                "cleartext (CVE-2023-28841); upgrade to 20.10.24 / 23.0.3 or later")
    return None


def host_problems(role: str, modules_missing: list[str], engine_version: tuple | None) -> list[tuple[str, str, str]]:
    """(key, value, why) that keep this host from carrying encrypted overlays: kernel modules
    missing (OverlayModules) and an engine that can leak their traffic (DockerEngine's version)."""
    found = [("swarm.role", role, f"kernel module {mod} (encrypted overlays) is missing")
             for mod in modules_missing]
    problem = engine_problem(engine_version)
    return found + ([("swarm.role", role, problem)] if problem else [])


@dataclass
class MembershipPlan(Plan):
    act: bool = False  # init or join


def init_plan(state: dict) -> MembershipPlan:
    """The founder: leads a swarm already, or founds one when in none."""
    p = MembershipPlan()
    if state["state"] == "active" and state["manager"]:
        return p
    p.differs("membership", "manager", state["state"])
    if state["state"] != "inactive":
        p.refusal = f"swarm state is {state['state']}: leave the other swarm first"
    p.act = p.refusal is None
    return p


def join_plan(role: str, state: dict, manager_state: dict, manager_addr: str | None) -> MembershipPlan:
    """A joiner, against its SwarmState and the leader's: in the leader's swarm with the role the
    data gives, else joins; a node of another swarm, or with the other role, is refused (moving
    it is a person's decision)."""
    p = MembershipPlan()
    if state["state"] != "active":
        p.differs("membership", role, state["state"])
        p.act = True
        return p
    ours = (state["cluster_id"] and state["cluster_id"] == manager_state["cluster_id"]) or \
        any(m.startswith(f"{manager_addr}:") for m in state["remote_managers"])
    if not ours:
        p.refusal = (f"member of another swarm (managers {', '.join(state['remote_managers'])}); "
                     "dockwright will not move it: run `docker swarm leave` first")
    elif state["manager"] != (role == "manager"):
        p.refusal = (f"in the swarm as {'manager' if state['manager'] else 'worker'}, data says {role}: "
                     "promote or demote it from a manager")
    return p


def standalone_plan(state: dict) -> MembershipPlan:
    """A host with no role stays out; leaving a swarm is left to a person (it drops services)."""
    p = MembershipPlan()
    if state["state"] != "inactive":
        p.differs("membership", "none", state["state"])
        p.refusal = (f"in a swarm (state {state['state']}) but data gives no swarm.role; "
                     "run `docker swarm leave` on it or give it a role")
    return p


def choose_leader(states: dict) -> tuple[object | None, list[str]]:
    """(leader, problems) from {manager host: SwarmState or None when unreachable}, managers
    in name order. The leader is the first manager already managing a swarm, so that a
    --limit run with a new manager that sorts first joins it instead of founding a second one;
    with no swarm anywhere, the first manager by name founds it."""
    active = [(h, st) for h, st in states.items() if st and st["state"] == "active" and st["manager"]]
    clusters = {st["cluster_id"] for _, st in active if st["cluster_id"]}
    problems = []
    if len(clusters) > 1:
        problems.append("managers lead different swarms: " + ", ".join(
            f"{h.name} ({st['cluster_id'][:12]})" for h, st in active))
    if active:
        return active[0][0], problems
    unreachable = [h.name for h, st in states.items() if st is None]
    if unreachable:
        problems.append(f"cannot ask manager(s) {', '.join(unreachable)} (unreachable, or dockerd not "
                        "answering) whether a swarm exists; dockwright will not found one that could be "
                        "a second swarm")
    return (next(iter(states), None), problems)
