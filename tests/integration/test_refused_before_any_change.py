"""A host whose valid data must not be applied now (a later sysctl file overrides dockwright at
boot) fails alone before any change on it: preflight asks every concern's refusal once the
fleet's data is valid, so the concerns deployed before the refusing one (conntrack, before
sysctl) change nothing there either. Real pyinfra, -y, on replayed hosts; what each host would
have been sent is kept by the replay (DOCKWRIGHT_REPLAY_SINK)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECORDING = REPO / "bench" / "recording"
# 9 simulated hosts: the standalone sim-s0005 replays the lab's refused standalone host, and
# sim-s0008 a healthy one (bench/sim_inventory.py).
REFUSED, HEALTHY = "sim-s0005", "sim-s0008"


@pytest.mark.skipif(not (RECORDING / "fault-standalone.json").exists(), reason="no fault recording")
def test_a_refused_host_fails_alone_and_nothing_is_sent_to_it(tmp_path):
    sink = tmp_path / "sent"
    env = dict(os.environ, DOCKWRIGHT_SIM_HOSTS="9", DOCKWRIGHT_SIM_FAULTS="12", DOCKWRIGHT_SIM_FAULT_KINDS="refused",
               DOCKWRIGHT_REPLAY_LATENCY_MS="0", DOCKWRIGHT_REPLAY_AS="", DOCKWRIGHT_REPLAY_SINK=str(sink))
    for name in ("DOCKWRIGHT_COUNT_FILE", "DOCKWRIGHT_REPLAY_TRACE"):
        env.pop(name, None)
    # A conntrack limit both hosts lack: the healthy one is sent its change (the control).
    res = subprocess.run([sys.executable, "-m", "pyinfra", "bench/sim_inventory.py", "deploy.py", "-y", "--json",
                          "--limit", REFUSED, "--limit", HEALTHY, "--data", 'conntrack={"max": 400000}',
                          "--data", 'verify={"after_deploy": false}'],
                         cwd=REPO, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-3000:]
    results = json.loads(res.stdout[res.stdout.find('{"plan"'):res.stdout.rindex("}") + 1])["results"]
    assert results["failed_hosts"] == [REFUSED], out[-3000:]
    assert "refused, nothing changed on this host: a later sysctl file overrides dockwright at boot" in out
    sent = {}
    for line in sink.read_text().splitlines() if sink.exists() else []:
        host, _, command = line.partition("\t")
        sent.setdefault(host, []).append(command)
    assert any("400000" in c for c in sent.get(HEALTHY, [])), sent.get(HEALTHY)
    assert REFUSED not in sent, sent[REFUSED]
