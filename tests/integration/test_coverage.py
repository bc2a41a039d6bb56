"""Exit 0 is a promise: on replayed hosts (bench/replay.py), every mistake a scheduled run can
meet ends non-zero with a message naming it, and never advances the last success; a host whose
connection data cannot be used fails alone while the others are checked; hosts in maintenance
are skipped, and unreachable hosts within --max-unreachable keep a clean fleet's verdict."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import contract

from tests.unit.helpers import local_and_ssh_inventory

REPO = Path(__file__).resolve().parents[2]
RECORDING = REPO / "bench" / "recording"
pytestmark = pytest.mark.skipif(not (RECORDING / "manager.json").exists(), reason="no recording (make bench-record)")


def _env(**extra) -> dict:
    env = dict(os.environ, DOCKWRIGHT_SIM_HOSTS="6", DOCKWRIGHT_REPLAY_LATENCY_MS="0", DOCKWRIGHT_REPLAY_AS="", **extra)
    for name in ("DOCKWRIGHT_COUNT_FILE", "DOCKWRIGHT_REPLAY_TRACE"):
        env.pop(name, None)
    return env


def run(tool: str, tmp_path, *args, env=None, inventory="bench/sim_inventory.py"):
    """(exit code, stdout+stderr, the JSON report, the textfile's samples) of one run."""
    from prometheus_client.parser import text_string_to_metric_families
    out, prom = tmp_path / f"{tool}.json", tmp_path / f"{tool}.prom"
    res = subprocess.run([sys.executable, f"{tool}.py", inventory, *args, "--json", str(out), "--metrics", str(prom),
                          "--lock", str(tmp_path / "lock")], cwd=REPO, env=env or _env(), capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, timeout=300)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(prom.read_text()) for s in f.samples}
    return res.returncode, res.stdout + res.stderr, contract.check(json.loads(out.read_text())), samples


def _seed_success(tmp_path, tool: str) -> None:
    """A last success from an earlier run, which a failed run must leave where it is."""
    (tmp_path / f"{tool}.prom.state").write_text(json.dumps({"last_success": 1000.0}))


def _assert_failed_without_success(code, samples, tool):
    assert code == 1
    assert samples[(f"dockwright_{tool}_last_success_timestamp_seconds", ())] == 1000.0
    assert samples[(f"dockwright_{tool}_exit_code", ())] == 1


@pytest.mark.parametrize("tool", ["drift", "diagnose"])
def test_a_wrong_inventory_path_is_named_and_never_clean(tmp_path, tool):
    _seed_success(tmp_path, tool)
    code, out, report, samples = run(tool, tmp_path, inventory="inventories/prd.py")
    _assert_failed_without_success(code, samples, tool)
    assert "inventory inventories/prd.py: no such file" in out and report["error"].endswith("no such file")


@pytest.mark.parametrize("tool", ["drift", "diagnose"])
def test_a_limit_that_matches_nothing_is_named(tmp_path, tool):
    _seed_success(tmp_path, tool)
    code, out, report, samples = run(tool, tmp_path, "--limit", "nosuchhost")
    _assert_failed_without_success(code, samples, tool)
    assert "--limit nosuchhost: matches no host" in out


def test_an_empty_inventory_is_named(tmp_path):
    _seed_success(tmp_path, "drift")
    empty = tmp_path / "empty.py"
    empty.write_text("hosts = []\n")
    code, out, report, samples = run("drift", tmp_path, inventory=str(empty))
    _assert_failed_without_success(code, samples, "drift")
    assert "yields no host" in out


def test_a_misspelled_data_name_stops_the_run_and_gives_no_host_a_verdict(tmp_path):
    """An aborted run: every host is "not checked", and the metrics never say 0 drift for it."""
    _seed_success(tmp_path, "drift")
    code, out, report, samples = run("drift", tmp_path, "--data", 'conntrak={"max": 1}')
    _assert_failed_without_success(code, samples, "drift")
    assert "conntrak" in out and "did you mean 'conntrack'?" in out
    assert report["coverage"]["checked"] == 0 and len(report["not_checked"]) == 6 and report["drift"] == {}
    assert not any(name == "dockwright_drift_items" for name, _ in samples)
    assert all(v == 0 for (name, _), v in samples.items() if name == "dockwright_drift_host_checked")
    assert "no drift" not in out


def test_a_host_whose_key_file_is_missing_fails_alone(tmp_path):
    """pyinfra raises for a missing key file before it connects, which once ended the run for
    every host: it is that host's failure alone, with the reason, and the others are checked."""
    inventory = local_and_ssh_inventory(tmp_path / "mixed.py", {
        "nokey": {"ssh_hostname": "127.0.0.1", "ssh_port": 1, "ssh_key": f"{tmp_path}/no-such-key"}})
    code, out, report, samples = run("drift", tmp_path, inventory=inventory)
    assert code == 1 and "Traceback" not in out
    assert list(report["unreachable"]) == ["nokey"] and "no-such-key" in report["unreachable"]["nokey"]
    assert "@local: no drift" in out and report["coverage"]["checked"] == 1
    assert samples[("dockwright_drift_host_checked", (("host", "@local"),))] == 1


def test_maintenance_and_an_unreachable_host_within_the_budget_keep_a_clean_verdict(tmp_path):
    code, out, report, samples = run("drift", tmp_path, "--max-unreachable", "1",
                                     env=_env(DOCKWRIGHT_SIM_FAULTS="17", DOCKWRIGHT_SIM_FAULT_KINDS="unreachable",
                                              DOCKWRIGHT_SIM_MAINTENANCE="sim-m0001"))
    assert report["skipped"] == {"sim-m0001": "maintenance: kernel upgrade (until 2026-12-31)"}, out[-2000:]
    assert list(report["unreachable"]) == ["sim-w0003"]
    assert code == 0, out[-3000:]
    assert samples[("dockwright_drift_hosts", (("state", "skipped"),))] == 1
    assert samples[("dockwright_drift_hosts", (("state", "unreachable"),))] == 1
    assert samples[("dockwright_drift_host_reachable", (("host", "sim-w0003"),))] == 0
    # Without the budget the same fleet fails.
    code, out, report, samples = run("drift", tmp_path, env=_env(DOCKWRIGHT_SIM_FAULTS="17",
                                                                 DOCKWRIGHT_SIM_FAULT_KINDS="unreachable",
                                                                 DOCKWRIGHT_SIM_MAINTENANCE="sim-m0001"))
    assert code == 1


def test_the_contract_catches_a_report_that_breaks_it():
    """The negative control of contract.check: a report with pyinfra's op hash in an item, and
    one with a bare list of unreachable hosts (the old shape), are refused."""
    good = {"schema_version": 2, "kind": "drift", "inventory": "i", "started": 1.0, "finished": 2.0, "duration": 1.0,
            "hosts": ["a"], "unreachable": {}, "failed": {}, "skipped": {}, "not_checked": {}, "error": None,
            "warnings": [], "exit_code": 2, "deferred": {}, "fixed": False, "fix": None,
            "coverage": {"in_scope": 1, "checked": 1, "unreachable": {}, "failed": {}, "skipped": {},
                         "not_checked": {}, "ratio": 1.0},
            "drift": {"a": [{"host": "a", "concern": "sysctl", "key": "k", "desired": 1, "actual": 0}]}}
    contract.check(good)
    with pytest.raises(AssertionError, match="op"):
        contract.check({**good, "drift": {"a": [{**good["drift"]["a"][0], "op": "0123abcd"}]}})
    with pytest.raises(AssertionError, match="unreachable"):
        contract.check({**good, "unreachable": ["a"]})


def test_the_verification_report_states_its_coverage_and_holds_to_its_schema(tmp_path):
    """The replayed verification of a fleet with an unreachable host: that host is named
    unreachable with ssh's reason, every other host has its verdict, and the report holds to
    docs/schema/verify-report.json."""
    env = _env(DOCKWRIGHT_SIM_FAULTS="17", DOCKWRIGHT_SIM_FAULT_KINDS="unreachable",
               DOCKWRIGHT_VERIFY_REPLAY=str(RECORDING))
    res = subprocess.run([sys.executable, "-m", "dockwright.verify", "-q", "-p", "no:cacheprovider",
                          "--inventory", "bench/sim_inventory.py"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=600)
    report = contract.check(json.loads((REPO / "reports" / "verify.json").read_text()))
    assert res.returncode == 1  # the unreachable host's own checks fail
    assert list(report["coverage"]["unreachable"]) == ["sim-w0003"]
    assert "Connection timed out" in report["coverage"]["unreachable"]["sim-w0003"]
    assert report["coverage"]["in_scope"] == 6 and report["coverage"]["checked"] == 5
    assert report["hosts"]["sim-w0003"] == "unreachable"
    assert {v for h, v in report["hosts"].items() if h != "sim-w0003"} == {"passed"}
    assert "coverage: 5 of 6 host(s) verified; sim-w0003: unreachable" in res.stdout


def test_the_plain_pyinfra_cli_fails_a_host_with_a_missing_key_file_alone(tmp_path):
    """`pyinfra INVENTORY deploy.py` itself (config.py, which pyinfra runs before connecting):
    the host without its key fails with the reason, @local is planned; without config.py (the
    negative control) pyinfra's own connect ends the run for every host."""
    inventory = local_and_ssh_inventory(tmp_path / "mixed.py", {
        "nokey": {"ssh_hostname": "127.0.0.1", "ssh_port": 1, "ssh_key": f"{tmp_path}/no-such-key"}})

    def deploy(*extra):
        res = subprocess.run([str(Path(sys.executable).with_name("pyinfra")), inventory, "deploy.py", "--dry", "-y",
                              *extra], cwd=REPO, env=_env(), capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=300)
        return res.returncode, res.stdout + res.stderr

    code, out = deploy()
    assert f"[nokey]  cannot connect: No such private key file: {tmp_path}/no-such-key" in out, out[-3000:]
    assert "[@local] Ready: deploy.py" in out and "Traceback" not in out
    assert code == 1  # a host failed: pyinfra's own verdict says so
    code, out = deploy("--config", "no-such-config.py")
    assert code == 1 and "[@local] Ready" not in out and "No such private key file" in out


def test_compact_progress_at_200_hosts_says_the_counts_not_a_line_per_host(tmp_path):
    """--progress compact on 200 replayed hosts, 10% of them unreachable and 10% refusing: no per-host Connected/Ready lines,
    the counts after the connect and at the end (each unreachable host still warned about);
    the default (the control) has pyinfra's lines for each host."""
    env = {**_env(DOCKWRIGHT_SIM_FAULTS="10"), "DOCKWRIGHT_SIM_HOSTS": "200"}
    code, out, report, _ = run("drift", tmp_path, "--progress", "compact", env=env)
    assert code == 1 and report["coverage"]["in_scope"] == 200
    assert "] Connected" not in out and "] Ready" not in out
    assert "dockwright drift: connected: 180 of 200 host(s) connected, 20 could not connect, 0 failed since" in out
    assert "dockwright drift: done: 180 of 200 host(s) connected, 20 could not connect, 20 failed since" in out
    assert out.count("simulated host is unreachable") >= 20
    code, out, _, _ = run("drift", tmp_path, env=env)
    assert out.count("] Connected") == 180
