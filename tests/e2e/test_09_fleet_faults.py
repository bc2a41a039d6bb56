"""A fleet with broken hosts: each bad host fails alone, with its reason, in every mode; the
healthy ones are planned, fixed and verified. A manager whose dockerd does not answer is never
taken for one outside a swarm."""

import json
import subprocess
import sys

import pytest

from .conftest import INVENTORY, NO_VERIFY, REPO, drift, lab_env, op_name, pyinfra, ssh

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first

OVERRIDE = "/etc/sysctl.d/99-zz-fault.conf"  # sorts after dockwright's file: wins at boot
KEY = "net.core.somaxconn"


def _faults():
    """lab1 drifted, lab2's dockerd stopped (its socket too: a docker call must not wake it),
    lab3 holding a later sysctl file (refused in the default on_override: fail)."""
    ssh("lab1", f"sysctl -q -w {KEY}=1024")
    ssh("lab2", "systemctl stop docker.socket docker.service")
    ssh("lab3", f"echo '{KEY} = 1024' > {OVERRIDE}")


def _plan_without_y(*args) -> tuple[subprocess.CompletedProcess, dict]:
    res = subprocess.run([sys.executable, "-m", "pyinfra", INVENTORY, "deploy.py", "--dry", "--json", *NO_VERIFY, *args],
                         cwd=REPO, env=lab_env(), capture_output=True, text=True, timeout=900)
    print(res.stdout[-4000:], res.stderr[-4000:])
    start = res.stdout.find('{"plan"')
    assert start >= 0, "pyinfra planned nothing"
    return res, json.loads(res.stdout[start:res.stdout.rindex("}") + 1])


def test_a_stopped_dockerd_a_refusal_and_a_drift_each_handled_alone():
    _faults()
    try:
        # Planned without -y (pyinfra runs every generator while planning): lab3's refusal
        # fails lab3 alone; lab1 and lab2 are planned, lab2's dockerd to be started.
        res, out = _plan_without_y()
        changes = {op_name(op): op["hosts_with_change"] for op in out["plan"]}
        assert "lab1" in changes["sysctl: owned file, live values, boot order"]
        assert changes["docker: engine installed and running"] == ["lab2"]
        assert all("lab3" not in hosts for hosts in changes.values())
        print(f"pyinfra --dry exit code with lab3 refused: {res.returncode}")

        # drift --fix: names each host with what is wrong, fixes and verifies the others.
        res = drift("--fix", "--json", "reports/drift-faults.json")
        report = json.loads((REPO / "reports" / "drift-faults.json").read_text())
        assert res.returncode == 1 and report["exit_code"] == 1
        assert list(report["failed"]) == ["lab3"] and "a later sysctl file overrides dockwright" in report["failed"]["lab3"]
        assert "lab3: FAILED: refused" in res.stdout
        assert sorted(report["drift"]) == ["lab1", "lab2"]
        assert {"key": "service active", "desired": True, "actual": False} in [
            {k: i[k] for k in ("key", "desired", "actual")} for i in report["drift"]["lab2"]]
        assert report["fixed"] is True  # deployed and verified (lab1 and lab2)
        assert ssh("lab1", f"sysctl -n {KEY}").strip() == "65535"
        assert ssh("lab2", "systemctl is-active docker").strip() == "active"

        # The same with -y: lab3 fails alone, the others are converged (nothing left to do).
        res = pyinfra(*NO_VERIFY)
        assert res.returncode != 0
        assert json.loads(res.stdout[res.stdout.find('{"plan"'):res.stdout.rindex("}") + 1])["results"][
            "failed_hosts"] == ["lab3"]
    finally:
        ssh("lab3", f"rm -f {OVERRIDE}")
        ssh("lab2", "systemctl start docker.socket docker.service", check=False)


def test_a_leader_whose_dockerd_is_down_never_lets_a_new_manager_found_a_second_swarm():
    """lab3 shows up as "lab0", a new manager sorting first, run alone with --limit while the
    leader's dockerd is stopped: the run stops, naming lab1; lab3 stays out of any swarm."""
    names = {"DOCKWRIGHT_LAB_NAMES": json.dumps({"lab3": "lab0"})}
    data = {"lab0": {"swarm": {"role": "manager"}, "docker": {"daemon": {"live-restore": False}}}}
    ssh("lab1", "systemctl stop docker.socket docker.service")
    try:
        res = pyinfra("--limit", "lab0", *NO_VERIFY, host_data=data, env=names)
        out = res.stdout + res.stderr
        assert res.returncode != 0
        assert "cannot ask manager(s) lab1" in out and "swarm: init" not in out
        assert ssh("lab3", "docker info --format '{{.Swarm.LocalNodeState}}'").strip() == "inactive"
    finally:
        ssh("lab1", "systemctl start docker.socket docker.service")
