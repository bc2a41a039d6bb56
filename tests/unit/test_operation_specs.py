"""Runs every spec in specs/: operation + facts in, exact commands (or error, or no-op) out."""

import importlib
import json

import pytest
from pyinfra.api import FunctionCommand, OperationError

from dockwright import dockerd

from .harness import FakeHost, load_specs, run

CASES = load_specs()


@pytest.mark.parametrize("case_id,case", CASES, ids=[c[0] for c in CASES])
def test_spec(case_id, case):
    module_name, op_name = case_id.split("/")[0].split(".")
    op = getattr(importlib.import_module(f"dockwright.operations.{module_name}"), op_name)
    kwargs = case.get("kwargs", {})
    facts = {k: _tupled(v) for k, v in case.get("facts", {}).items()}
    assert "asks" in case, "every case pins the facts its operation reads (asks: [[Fact, {kwargs}]])"
    if "error" in case:
        fake = FakeHost(facts, executing=case.get("executing", False))
        with pytest.raises(OperationError) as err:
            run(op, facts, fake=fake, **kwargs)
        for part in _list(case["error"]):
            assert part in str(err.value)
        assert _asked(fake) == case["asks"], case.get("description")
        return
    commands, fake = run(op, facts, fake=FakeHost(facts, executing=case.get("executing", False)), **kwargs)
    commands = [_shown(c) for c in commands]
    assert commands == case.get("commands", []), case.get("description")
    # Which facts, with which arguments: a wrong argument reads the wrong thing on a real host.
    assert _asked(fake) == case["asks"], case.get("description")
    if "noop" in case:
        assert any(case["noop"] in n for n in fake.noops)


def _asked(fake):
    return json.loads(json.dumps([[name, kw] for name, kw in fake.asked]))


def _shown(cmd):
    """A Python callback step as specs write it: "call NAME" plus its arguments in JSON."""
    if isinstance(cmd, FunctionCommand):
        args = [a.__name__ if isinstance(a, type) else a for a in cmd.args]  # a fact class by name
        return f"call {cmd.function.__name__} {json.dumps(args, sort_keys=True)}"
    return cmd


def _list(x):
    return x if isinstance(x, list) else [x]


def _tupled(fact):
    """YAML has no tuples; the sysctl fact's file lines are (path, key, value) tuples. A fact
    written as {dockerd_down: WHY} is what a docker fact answers when dockerd does not."""
    if isinstance(fact, dict) and set(fact) == {"dockerd_down"}:
        return dockerd.Down(fact["dockerd_down"])
    if isinstance(fact, dict) and "files" in fact:
        fact = dict(fact, files=[tuple(x) for x in fact["files"]])
    return fact
