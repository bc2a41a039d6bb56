"""The registry of concerns: what each declares matches what its operations do, the reads of a
host go in one fixed order with each read once, and a host's view computes each derived value
once per run."""

import ast
import pathlib

from dockwright import concerns, facts
from dockwright.model import deep_merge
from dockwright.plans import docker as docker_plans

from .harness import FakeHost
from .helpers import group_data
from .test_preflight import facts as host_facts

REPO = pathlib.Path(__file__).resolve().parents[2]
ALL = group_data("all")
MANAGER = deep_merge(ALL, group_data("swarm_managers"))


def recorded_names() -> set[str]:
    """Every concern name the operations record drift items under, read from their source:
    outcomes.record(host, NAME, ...), refusal.decided(host, NAME, ...) and the networks'
    _reconcile(..., NAME)."""
    found = set()
    for path in (REPO / "dockwright" / "operations").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if fn in ("record", "decided") and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                found.add(node.args[1].value)
            elif fn == "_reconcile" and args:
                found.add(args[-1])
    return found


def test_the_drift_keys_are_exactly_what_the_operations_record():
    assert set(concerns.drift_keys()) == recorded_names()
    assert len(concerns.drift_keys()) == len(set(concerns.drift_keys()))


def test_the_registry_is_in_deploy_order():
    assert [c.name for c in concerns.REGISTRY] == [
        "conntrack", "sysctl", "engine", "seccomp", "daemon", "apparmor", "networks", "swarm", "verify"]


def test_a_hosts_reads_are_each_asked_once_in_the_facts_order():
    view = concerns.View(FakeHost({}), MANAGER)
    reads = concerns.reads(view)
    kinds = [r.fact for r in reads]
    assert kinds == sorted(kinds, key=facts.ORDER.index)
    assert len({(r.fact, repr(sorted(r.args.items()))) for r in reads}) == len(reads)
    # The engine is asked for by the docker concerns and the swarm's: one read.
    assert kinds.count(facts.DockerEngine) == 1 and kinds.count(facts.SwarmState) == 1


def test_a_concern_switched_off_asks_nothing():
    off = deep_merge(MANAGER, {"concerns": {c: False for c in ("sysctl", "conntrack", "docker", "seccomp",
                                                               "apparmor", "networks", "swarm", "verify")}})
    view = concerns.View(FakeHost({}), off)
    assert concerns.reads(view) == [] and [c.name for c in concerns.REGISTRY if c.wanted(view)] == []


def test_a_view_renders_daemon_json_once_whoever_asks(monkeypatch):
    calls = []
    real = docker_plans.render
    monkeypatch.setattr(docker_plans, "render", lambda desired: calls.append(1) or real(desired))
    fake = FakeHost(host_facts())
    view = concerns.View(fake, MANAGER)
    concerns.reads(view)
    concerns.problems(fake, view)
    concerns.problems(fake, view)
    assert view.daemon_json == real(MANAGER) and len(calls) == 1
