"""drift.py --shard and drift.py merge on a simulated fleet (bench/replay.py answers recorded
from the lab): every host is checked by exactly one shard, and the merged report is the fleet's."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockwright import cli
from tests import contract

REPO = Path(__file__).resolve().parents[2]
RECORDING = REPO / "bench" / "recording"
N, SHARDS = 9, 3


@pytest.mark.skipif(not (RECORDING / "manager.json").exists(), reason="no recording (make bench-record)")
def test_shards_split_the_simulated_fleet_and_merge_into_its_report(tmp_path):
    env = dict(os.environ, DOCKWRIGHT_SIM_HOSTS=str(N), DOCKWRIGHT_REPLAY_LATENCY_MS="0", DOCKWRIGHT_REPLAY_AS="")
    for name in ("DOCKWRIGHT_COUNT_FILE", "DOCKWRIGHT_REPLAY_TRACE"):
        env.pop(name, None)
    reports = []
    for i in range(1, SHARDS + 1):
        out = tmp_path / f"shard{i}.json"
        res = subprocess.run([sys.executable, "drift.py", "bench/sim_inventory.py", "--shard", f"{i}/{SHARDS}",
                              "--json", str(out), "--lock", str(tmp_path / f"lock{i}")], cwd=REPO, env=env,
                             capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        reports.append(contract.check(json.loads(out.read_text())))

    everyone = sorted(f"sim-{r[0]}{i:04d}" for i, r in enumerate(
        ["manager"] * 3 + [("standalone" if i % 3 == 2 else "worker") for i in range(N - 3)]))
    checked = [h for r in reports for h in r["hosts"]]
    assert sorted(checked) == everyone  # each host once, none left out
    for i, r in enumerate(reports, start=1):
        assert all(cli.shard_of(h, SHARDS) == i for h in r["hosts"]) and r["shard"] == [i, SHARDS]

    res = subprocess.run([sys.executable, "drift.py", "merge", *(str(tmp_path / f"shard{i}.json") for i in
                          range(1, SHARDS + 1)), "--json", str(tmp_path / "fleet.json"),
                          "--metrics", str(tmp_path / "fleet.prom")], cwd=REPO, capture_output=True, text=True)
    fleet = contract.check(json.loads((tmp_path / "fleet.json").read_text()))
    assert res.returncode == 0 and fleet["exit_code"] == 0 and fleet["hosts"] == everyone and fleet["drift"] == {}
    prom = (tmp_path / "fleet.prom").read_text()
    assert prom.count("dockwright_drift_host_reachable{") == N and "dockwright_drift_exit_code 0" in prom


def test_shard_and_limit_compose_as_pyinfra_reads_limit(monkeypatch):
    """--limit holds host names, group names and globs, as pyinfra's own: a shard checks the
    hosts it has in common with them (a group or glob once selected nothing)."""
    monkeypatch.setenv("DOCKWRIGHT_SIM_HOSTS", str(N))
    everyone = [h for i in range(1, SHARDS + 1) for h in cli.shard_hosts("bench/sim_inventory.py", i, SHARDS)]
    workers = sorted(h for h in everyone if h.startswith("sim-w"))
    by_group = [h for i in range(1, SHARDS + 1)
                for h in cli.shard_hosts("bench/sim_inventory.py", i, SHARDS, "swarm_workers")]
    by_glob = [h for i in range(1, SHARDS + 1) for h in cli.shard_hosts("bench/sim_inventory.py", i, SHARDS, "sim-w*")]
    assert sorted(by_group) == sorted(by_glob) == workers and len(workers) == 4
    mixed = cli.shard_hosts("bench/sim_inventory.py", 1, 1, "sim-m0000,standalone")
    assert mixed == sorted(["sim-m0000", *(h for h in everyone if h.startswith("sim-s"))])


@pytest.mark.skipif(not (RECORDING / "fault-manager.json").exists(), reason="no fault recording")
def test_drift_lists_a_broken_fleets_items_and_failures_per_host(tmp_path):
    """drift.py's own listing on replayed hosts with faults: a drifted host's items in drift's
    wording, the others' failures named; the plan's per-key lines are drift's alone."""
    env = dict(os.environ, DOCKWRIGHT_SIM_HOSTS="10", DOCKWRIGHT_SIM_FAULTS="30", DOCKWRIGHT_REPLAY_LATENCY_MS="0",
               DOCKWRIGHT_REPLAY_AS="")
    for name in ("DOCKWRIGHT_COUNT_FILE", "DOCKWRIGHT_REPLAY_TRACE"):
        env.pop(name, None)
    res = subprocess.run([sys.executable, "drift.py", "bench/sim_inventory.py", "--lock", str(tmp_path / "lock")],
                         cwd=REPO, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    out = res.stdout
    assert res.returncode == 1, out[-3000:] + res.stderr[-3000:]
    assert "  sim-m0006: 1 drifted item(s)\n    [sysctl] live: net.core.somaxconn: desired '65535', actual '1024'" in out
    assert "sim-w0003: UNREACHABLE" in out and "sim-s0005: FAILED: refused:" in out
    assert "would change" not in res.stderr
