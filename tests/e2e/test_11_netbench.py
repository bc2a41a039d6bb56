"""The network benchmark's safety on the lab: a host whose data does not opt in is refused
before anything runs, and a run killed in the middle leaves no container or network behind."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests import contract

from .conftest import INVENTORY, REPO, SWARM, lab_env, ssh

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first

LEFT = "docker ps -aq --filter label=dockwright.netbench=1; docker network ls -q --filter label=dockwright.netbench=1"


def _netbench(*args, host_data=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dockwright.netbench", INVENTORY, *args], cwd=REPO,
                            env=lab_env(host_data), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


@SWARM
def test_refused_without_opt_in_and_nothing_left_after_a_kill():
    res = _netbench("--hosts", "lab1,lab2", "--no-tuning", host_data={"lab2": {"netbench": {"allowed": False}}})
    out, _ = res.communicate(timeout=300)
    print(out[-2000:])
    assert res.returncode == 1 and "lab2: netbench.allowed = False" in out
    assert ssh("lab1", LEFT).strip() == "" and ssh("lab2", LEFT).strip() == ""

    # Killed (SIGTERM, as a CI runner cancels a job) once its objects exist on both hosts.
    report = REPO / "reports" / "netbench-killed.json"
    report.unlink(missing_ok=True)
    run = _netbench("--hosts", "lab1,lab2", "--repetitions", "3", "--seconds", "2", "--no-tuning", "--json", str(report))
    deadline = time.monotonic() + 600
    seen = ""
    try:
        while time.monotonic() < deadline:
            if ssh("lab2", "docker ps -aq --filter label=dockwright.netbench=1").strip() and \
                    ssh("lab1", "docker network ls -q --filter label=dockwright.netbench=1").strip():
                break
            time.sleep(2)
        else:
            raise AssertionError("the benchmark never had its objects on both hosts")
        seen = ssh("lab2", LEFT)
        os.killpg(run.pid, signal.SIGTERM)
        out, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    print(out[-3000:])
    assert seen.strip(), "objects existed when the run was killed"
    assert run.returncode == 128 + signal.SIGTERM and "removed every container and network" in out
    # Its report says the pair was never judged: nothing in it reads as measured.
    killed = contract.check(json.loads(report.read_text()))
    assert killed["exit_code"] == 128 + signal.SIGTERM and killed["coverage"]["checked"] == 0
    assert sorted(killed["not_checked"]) == ["lab1", "lab2"] and "stopped" in killed["not_checked"]["lab1"]
    assert ssh("lab1", LEFT).strip() == "" and ssh("lab2", LEFT).strip() == ""


@SWARM
def test_a_controller_killed_while_conntrack_is_lowered_leaves_it_restored():
    """SIGKILL (nothing of the controller runs after it) while the untuned burst has
    nf_conntrack_max lowered on the server: the host-side guard puts it back by itself."""
    before = ssh("lab2", "sysctl -n net.netfilter.nf_conntrack_max").strip()
    env = {"DOCKWRIGHT_NETBENCH_RESTORE_AFTER": "20"}
    run = subprocess.Popen([sys.executable, "-m", "dockwright.netbench", INVENTORY, "--hosts", "lab1,lab2",
                            "--modes", "host", "--repetitions", "1", "--seconds", "1", "--burst", "256",
                            "--conntrack-default", "4096"], cwd=REPO, env=lab_env(None, **env),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lowered = ""
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and run.poll() is None:
            lowered = ssh("lab2", "[ -f /run/dockwright-netbench-restore.pid ] && "
                                  "sysctl -n net.netfilter.nf_conntrack_max; true").strip()
            # The guard is installed one command before the limit is lowered: wait for both.
            if lowered and lowered != before:
                break
            time.sleep(0.5)
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate(timeout=60)
        assert lowered == "4096", f"the run never lowered conntrack on lab2 ({lowered!r})"
        time.sleep(30)  # the guard's 20 s, and some
        assert ssh("lab2", "sysctl -n net.netfilter.nf_conntrack_max").strip() == before
        assert ssh("lab2", "ls /run/dockwright-netbench-restore.pid 2>/dev/null; true").strip() == ""
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        for h in ("lab1", "lab2"):
            ssh(h, "docker rm -f $(docker ps -aq --filter label=dockwright.netbench=1) >/dev/null 2>&1; "
                   "docker network rm $(docker network ls -q --filter label=dockwright.netbench=1) >/dev/null 2>&1; true")
        ssh("lab2", f"sysctl -q -w net.netfilter.nf_conntrack_max={before}")
