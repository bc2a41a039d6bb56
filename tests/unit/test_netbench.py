"""The network benchmark: which modes a pair of hosts can run and the commands for them (every
object labelled), the opt-in refusal, and the figures (medians, spread, ratios to host mode)."""

import pytest

from dockwright.netbench import modes as M
from dockwright.netbench import report

from .helpers import group_data

SUBNETS = group_data("all")["netbench"]["subnets"]
A = M.Host("lab1", "10.99.0.11", "dockwright-probe:x", "10.99.0.111", "eth1", True)
B = M.Host("lab2", "10.99.0.12", "dockwright-probe:x", "10.99.0.112", "eth1", False)


def test_every_mode_when_the_pair_allows_it_and_every_object_labelled():
    chosen, left = M.modes(A, B, SUBNETS, "10.99.0.0/24", swarm=True)
    assert [m.name for m in chosen] == list(M.ORDER) and left == {}
    for m in chosen:
        assert f"--label {M.LABEL}" in m.server and all(f"--label {M.LABEL}" in c for c in m.setup.values())
        assert f"--label {M.LABEL}" in m.client("img", "stream:x:1:1")
    overlay = {m.name: m for m in chosen}["encrypted_overlay"]
    assert "--opt encrypted" in overlay.setup["A"] and list(overlay.setup) == ["A"]  # made on the manager
    mac = {m.name: m for m in chosen}["macvlan"]
    assert "--ip 10.99.0.112" in mac.server and mac.target == "10.99.0.112:5201" and "parent=eth1" in mac.setup["B"]


def test_modes_a_pair_cannot_run_are_left_out_with_the_reason():
    chosen, left = M.modes(A, B, SUBNETS, None, swarm=False)
    assert [m.name for m in chosen] == ["host", "bridge", "user_bridge"]
    assert set(left) == {"overlay", "encrypted_overlay", "macvlan", "ipvlan_l2"} and all(left.values())


def test_cleanup_removes_by_label_only():
    containers, networks = M.cleanup_commands()
    assert f"docker rm -f $(docker ps -aq --filter label={M.LABEL})" in containers
    assert f"docker network rm $(docker network ls -q --filter label={M.LABEL})" in networks


def test_ratios_are_medians_against_host_mode_of_the_same_run():
    rounds = []
    for r, (host, bridge) in enumerate([(1000, 900), (1100, 950), (900, 800)], 1):
        for mode, v in (("host", host), ("bridge", bridge)):
            rounds.append({"round": r, "mode": mode, "stream": {"mbit_s": v, "bytes": 1},
                           "rr": {"tps": 10, "p50_us": 100 if mode == "host" else 120, "p99_us": 200},
                           "crr": {"cps": 50, "p50_us": 1, "p99_us": 2}})
    s = report.summary(rounds)
    assert s["bridge"]["stream"]["mbit_s"] == {"median": 900, "min": 800, "max": 950, "n": 3}
    assert s["bridge"]["ratio"]["stream"]["median"] == pytest.approx(0.9)
    assert s["bridge"]["ratio"]["rr"]["median"] == pytest.approx(1.2)  # latency: above 1 is worse
    assert s["host"]["ratio"]["crr"]["median"] == 1.0


def test_probe_lines_parse_and_a_failure_is_kept_as_said():
    assert report.parse("rr", "1200.5 80 300") == {"tps": 1200.5, "p50_us": 80.0, "p99_us": 300.0}
    assert report.parse("stream", "ECONNREFUSED") == {"error": "ECONNREFUSED"}


def test_only_opted_in_hosts_are_loaded(tmp_path, monkeypatch):
    from dockwright.netbench import __main__ as nb
    inv = tmp_path / "inv.py"
    inv.write_text("hosts = [('h1', {}), ('h2', {})]\n")
    with pytest.raises(nb.Refused, match="h1: netbench.allowed = False"):
        nb.load(str(inv), ["h1", "h2"])
