"""Swarm membership and encrypted overlays."""

import pytest

from operations import model, networks, swarm


@pytest.fixture
def role(target):
    if not model.enabled(target.desired, "swarm"):
        pytest.skip("swarm concern off for this host")
    return target.desired["swarm"]["role"]


def test_swarm_membership(target, role):
    state = target.fact(swarm.SwarmState)
    if role is None:
        assert state["state"] == "inactive", f"standalone host is in a swarm ({state['state']})"
        return
    assert state["state"] == "active", f"swarm state {state['state']}"
    assert state["manager"] == (role == "manager"), f"manager={state['manager']}, data says {role}"
    addr = target.desired["swarm"]["advertise_addr"]
    assert state["node_addr"] == addr, f"advertises {state['node_addr']}, data says {addr}"


def test_overlays_encrypted(target, role):
    overlays = target.desired["networks"]["overlays"]
    if role != "manager" or not overlays:
        pytest.skip("overlays are checked on managers")
    actual = target.fact(networks.DockerNetworks)
    wrong = []
    for name, spec in sorted(overlays.items()):
        if name not in actual:
            wrong.append(f"{name}: missing")
            continue
        wrong += [f"{name}.{f}: want {w!r}, has {h!r}" for f, w, h in networks.differences(spec, actual[name])]
    for name, net in sorted(actual.items()):
        if net["driver"] == "overlay" and name != "ingress" and not net["encrypted"]:
            wrong.append(f"{name}: overlay without encryption")
    assert not wrong, "; ".join(wrong)


def test_overlay_kernel_modules(target, role):
    """The modules encrypted overlays need are available (ESP traffic itself: tests/e2e)."""
    if role is None or not any(s.get("encrypted") for s in target.desired["networks"]["overlays"].values()):
        pytest.skip("no encrypted overlay on this host")
    state = target.fact(swarm.SwarmState)
    assert not state["modules_missing"], f"missing modules: {state['modules_missing']}"
