"""A converged no-op deploy on simulated hosts (bench/replay.py, answers recorded from the lab):
which commands each role's host receives, and that none is sent twice in one run. This pins
the no-op run's round trips: more reads, or a repeated one, fails here before any fleet pays.
Each host gets one command, the host-state read; what it reads is pinned per role below."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECORDING = REPO / "bench" / "recording"

# Remote commands per host in a converged no-op deploy (verification off), by role: the one
# host-state read (the leader's SwarmState is asked once, not once per worker).
EXPECTED_PER_HOST = {"manager": 1, "worker": 1, "standalone": 1}
# The reads inside that one command, by a piece of each fact's command (every role has every
# concern on; the standalone host's swarm state is read too: it must stay out of any swarm).
READS = {
    "ConntrackState": "/sys/devices/system/cpu/online",
    "SysctlState": 'print "live " k " " v',
    "DockerEngine": "dockerd --version",
    "Sha256File (seccomp)": "/etc/docker/seccomp/dockwright.json",
    "AppArmorState": "/sys/module/apparmor/parameters/enabled",
    "DockerNetworks": "docker network ls -q",
    "PortPolicy": "iptables -S DOCKER-USER",
    "HostRoutes": "< /proc/net/route",
    "SwarmState": "docker info --format",
    "OverlayModules": "modules:vxlan",
}
# The overlay modules matter only where the host joins the swarm.
EXPECTED_READS = {role: sorted(r for r in READS if role != "standalone" or r != "OverlayModules")
                  for role in EXPECTED_PER_HOST}


def _noop_run(tmp_path, n: int, *data: str) -> tuple[subprocess.CompletedProcess, list[tuple[str, str]]]:
    trace = tmp_path / "trace"
    env = dict(os.environ, DOCKWRIGHT_SIM_HOSTS=str(n), DOCKWRIGHT_REPLAY_LATENCY_MS="0",
               DOCKWRIGHT_REPLAY_TRACE=str(trace), DOCKWRIGHT_REPLAY_AS="")
    env.pop("DOCKWRIGHT_COUNT_FILE", None)
    res = subprocess.run([sys.executable, "-m", "pyinfra", "bench/sim_inventory.py", "deploy.py", "-y", "--json",
                          "--data", 'verify={"after_deploy": false}', *data], cwd=REPO, env=env,
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    lines = trace.read_text().splitlines() if trace.exists() else []
    return res, [tuple(line.split("\t", 1)) for line in lines]


@pytest.mark.skipif(not (RECORDING / "manager.json").exists(), reason="no recording (make bench-record)")
def test_noop_deploy_reads_each_thing_once_and_changes_nothing(tmp_path):
    res, sent = _noop_run(tmp_path, 6)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    start = res.stdout.find('{"plan"')
    import json
    results = json.loads(res.stdout[start:res.stdout.rindex("}") + 1])["results"]
    assert [op["name"] for op in results["operations"] if op["success"]] == []
    per_host = Counter(host for host, _ in sent)
    repeated = [(h, c) for (h, c), k in Counter(sent).items() if k > 1]
    assert not repeated, f"sent more than once in one run: {repeated}"
    roles = {"sim-m": "manager", "sim-w": "worker", "sim-s": "standalone"}
    counts = {roles[h[:5]]: n for h, n in sorted(per_host.items())}
    assert counts == EXPECTED_PER_HOST, sent
    reads = {roles[h[:5]]: sorted(name for name, piece in READS.items() if piece in command)
             for h, command in sent}
    assert reads == EXPECTED_READS
