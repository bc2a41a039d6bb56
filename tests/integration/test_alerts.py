"""The shipped alert rules (templates/alerts/dockwright.rules.yml), checked and tested with
Prometheus' own promtool, against the series drift.py and diagnose.py really write: the
textfiles come from runs on replayed hosts (bench/replay.py), each sample becomes a promtool
input series (timestamps moved to the test's clock, where the run ended at 0)."""

import json
import os
import shutil
import subprocess

import pytest
import yaml

from .test_coverage import REPO, _env, run

RULES = REPO / "templates" / "alerts" / "dockwright.rules.yml"
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(not PROMTOOL and not os.environ.get("DOCKWRIGHT_REQUIRE_TOOLS"),
                                reason="no promtool (Debian's prometheus package; make lab-packages)")
STAMPS = ("_timestamp_seconds",)


def _series(tmp_path, tool: str) -> list[dict]:
    """The textfile tool wrote in tmp_path as promtool input series, constant for 24 hours."""
    from prometheus_client.parser import text_string_to_metric_families
    text = (tmp_path / f"{tool}.prom").read_text()
    finished = json.loads((tmp_path / f"{tool}.json").read_text())["finished"]
    out = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            value = s.value - finished if s.name.endswith(STAMPS) and s.value else s.value
            labels = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(s.labels.items()))
            out.append({"series": f"{s.name}{{{labels}}}", "values": f"{value:.3f}+0x1440"})
    return out


def _promtool_test(tmp_path, cases: list[dict]) -> subprocess.CompletedProcess:
    spec = tmp_path / "rules.test.yml"
    spec.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": cases}))
    return subprocess.run([PROMTOOL or "promtool", "test", "rules", str(spec)], capture_output=True, text=True)


def _alert(name: str, at: str, expected: list[dict]) -> dict:
    return {"eval_time": at, "alertname": name, "exp_alerts": expected}


def test_the_rules_are_valid():
    res = subprocess.run([PROMTOOL or "promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert res.returncode == 0 and "SUCCESS: 7 rules found" in res.stdout, res.stdout + res.stderr


def test_a_clean_fleet_fires_nothing_until_its_runs_go_stale(tmp_path):
    code, _, _, _ = run("drift", tmp_path)
    assert code == 0
    series = _series(tmp_path, "drift")
    stale = {"severity": "critical"}
    res = _promtool_test(tmp_path, [{"interval": "1m", "input_series": series, "alert_rule_test": [
        _alert("DockwrightDriftPresent", "1h", []), _alert("DockwrightDriftRunFailed", "1h", []),
        _alert("DockwrightDriftCoverageLow", "1h", []), _alert("DockwrightDriftStale", "17h", []),
        _alert("DockwrightDriftStale", "19h", [{"exp_labels": stale, "exp_annotations": {
            "summary": "No drift run has held its verdict for 18 hours",
            "description": "The last success is 19h 0m 0s old: the timer does not run, or every run fails."}}]),
    ]}])
    assert res.returncode == 0, res.stdout + res.stderr


def test_drift_a_failed_run_and_a_critical_finding_each_fire_their_alert(tmp_path):
    faults = _env(DOCKWRIGHT_SIM_FAULTS="17", DOCKWRIGHT_SIM_FAULT_KINDS="drifted,dockerd-stopped")
    code, _, report, _ = run("drift", tmp_path, env=faults)
    assert code == 2 and report["drift"], report
    counts = {h: len(items) for h, items in report["drift"].items()}
    drifted = _series(tmp_path, "drift")
    code, _, report, _ = run("diagnose", tmp_path, env=faults)
    assert code == 2
    critical = {}
    for f in report["findings"]:
        if f["severity"] == "critical":
            critical[f["host"]] = critical.get(f["host"], 0) + 1
    assert critical
    diagnosed = _series(tmp_path, "diagnose")
    (tmp_path / "drift.json").unlink()
    code, _, _, _ = run("drift", tmp_path, "--data", 'conntrak={"max": 1}')  # an aborted run
    assert code == 1
    aborted = _series(tmp_path, "drift")
    res = _promtool_test(tmp_path, [
        {"interval": "1m", "input_series": drifted, "alert_rule_test": [
            _alert("DockwrightDriftPresent", "10m", [{"exp_labels": {"severity": "warning", "host": h},
                                                      "exp_annotations": {
                "summary": f"{h} differs from its declared state",
                "description": f"The last drift run found {n} item(s) on {h} that it did not (or may not yet) "
                               "fix. Read its report: drift.py --json."}} for h, n in sorted(counts.items())]),
            _alert("DockwrightDriftRunFailed", "10m", [])]},
        {"interval": "1m", "input_series": aborted, "alert_rule_test": [
            _alert("DockwrightDriftPresent", "10m", []),  # not checked is never "drift 0" nor drift
            _alert("DockwrightDriftRunFailed", "10m", [{"exp_labels": {"severity": "critical"}, "exp_annotations": {
                "summary": "The last drift run failed",
                "description": "drift.py exited 1: a host failed or was not checked, the data is invalid, or the "
                               "run stopped. Its report names why."}}]),
            _alert("DockwrightDriftCoverageLow", "10m", [{"exp_labels": {"severity": "warning"}, "exp_annotations": {
                "summary": "The last drift run left hosts unchecked beyond its budget",
                "description": "Only 0% of the hosts in scope were checked (dockwright_drift_hosts says which state "
                               "the others are in)."}}])]},
        {"interval": "1m", "input_series": diagnosed, "alert_rule_test": [
            _alert("DockwrightDiagnoseCritical", "1m", [
                {"exp_labels": {"severity": "critical", "host": h}, "exp_annotations": {
                    "summary": f"{h}: {n} critical networking finding(s)",
                    "description": f"diagnose.py found a critical problem on {h}; its report has the value, "
                                   "threshold and fix."}} for h, n in sorted(critical.items())])]},
    ])
    assert res.returncode == 0, res.stdout + res.stderr
