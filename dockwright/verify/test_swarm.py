"""Swarm membership and encrypted overlays."""

import json

import pytest


from . import expect, snapshot


def _swarm(target) -> dict:
    return json.loads(target.state()["docker.info"])["Swarm"]


@pytest.fixture
def role(target):
    return target.needs("swarm")["role"]


def test_swarm_membership(target, role):
    state = _swarm(target)
    if role is None:
        assert state["LocalNodeState"] == "inactive", f"standalone host is in a swarm ({state['LocalNodeState']})"
        return
    assert state["LocalNodeState"] == "active", f"swarm state {state['LocalNodeState']}"
    manager = bool(state.get("ControlAvailable"))
    assert manager == (role == "manager"), f"manager={manager}, data says {role}"
    addr = target.desired["swarm"]["advertise_addr"]
    assert state.get("NodeAddr") == addr, f"advertises {state.get('NodeAddr')}, data says {addr}"


def test_overlays_encrypted(target, role):
    overlays = target.desired["networks"]["overlays"]
    if role != "manager" or not overlays:
        pytest.skip("overlays are checked on managers")
    actual = snapshot.networks(target.state())
    wrong = []
    for name, spec in sorted(overlays.items()):
        wrong += expect.network_mismatches(name, spec, actual.get(name))
    for name, raw in sorted(actual.items()):
        if raw["Driver"] == "overlay" and name != "ingress" and "encrypted" not in (raw.get("Options") or {}):
            wrong.append(f"{name}: overlay without encryption")
    assert not wrong, "; ".join(wrong)


def test_overlay_kernel_modules(target, role):
    """The modules encrypted overlays need are available (ESP traffic itself: tests/e2e)."""
    if role is None or not any(s.get("encrypted") for s in target.desired["networks"]["overlays"].values()):
        pytest.skip("no encrypted overlay on this host")
    missing = target.state()["overlay.modules"].split()
    assert not missing, f"missing modules: {missing}"
