"""The Prometheus textfiles of drift.py and diagnose.py, written with prometheus_client (a
registry, then ``write_to_textfile``: the text format, its escaping and its atomic rename are
the library's). What must outlive a run (when it last succeeded) is kept in a small JSON state
file beside the textfile, never parsed back out of it.

Every series a run writes is there in every run: per-host series for each host in scope, fleet
series always, and 0 where there is nothing to count. A host that was not checked gets
``..._host_checked 0`` and no per-host verdict at all: never a 0 that reads as "clean".
"""

import json
import os
from pathlib import Path

HOST_STATES = ("in_scope", "checked", "unreachable", "failed", "skipped", "not_checked", "deferred")


def state_path(metrics: Path) -> Path:
    return metrics.with_name(metrics.name + ".state")


def last_success(metrics: Path) -> float | None:
    """When a run last succeeded, as the state file beside the textfile keeps it."""
    try:
        value = json.loads(state_path(metrics).read_text()).get("last_success")
        return float(value) if value else None
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def write(metrics: Path, registry, success: float | None) -> None:
    """The textfile (0644: node_exporter's user reads it) and the state file (0600)."""
    from prometheus_client import write_to_textfile

    from .cli import write_atomic
    metrics.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(metrics), registry)
    os.chmod(metrics, 0o644)
    write_atomic(state_path(metrics), json.dumps({"last_success": success}) + "\n")


def _gauge(registry, name: str, doc: str, labels=()):
    from prometheus_client import Gauge
    return Gauge(name, doc, labels, registry=registry)


def coverage_of(report: dict) -> dict:
    """The report's coverage, as it states it (or as its host lists give it)."""
    from .coverage import Coverage
    return report.get("coverage") or Coverage.of(report).as_dict()


def run_series(registry, prefix: str, report: dict, success: float | None) -> None:
    """The series every run has: when it ran and succeeded, how long it took, its exit code,
    and its coverage (hosts per state, and the ratio checked)."""
    cov = coverage_of(report)
    _gauge(registry, f"{prefix}_last_run_timestamp_seconds", "When the last run finished.").set(report["finished"])
    _gauge(registry, f"{prefix}_last_success_timestamp_seconds",
           "When a run last finished with a verdict that holds (every host in scope accounted for, "
           "unreachable ones within the budget).").set(success or 0)
    _gauge(registry, f"{prefix}_duration_seconds", "How long the last run took.").set(report["duration"])
    _gauge(registry, f"{prefix}_exit_code", "Exit code of the last run (0 clean, 2 found, 1 failure).").set(
        report["exit_code"])
    hosts = _gauge(registry, f"{prefix}_hosts", "Hosts of the last run, by what became of them.", ["state"])
    counts = {"in_scope": cov["in_scope"], "checked": cov["checked"], "deferred": len(report.get("deferred") or {}),
              **{k: len(cov[k]) for k in ("unreachable", "failed", "skipped", "not_checked")}}
    for state in HOST_STATES:
        hosts.labels(state).set(counts[state])
    _gauge(registry, f"{prefix}_coverage_ratio", "Hosts checked over hosts expected (in scope, not skipped).").set(
        cov["ratio"])


def host_series(registry, prefix: str, report: dict) -> list[str]:
    """Per host in scope: checked, reachable, failed, skipped; returns the hosts checked."""
    cov = coverage_of(report)
    in_scope = report["hosts"]
    left_out = {**cov["unreachable"], **cov["failed"], **cov["skipped"], **cov["not_checked"]}
    checked = [h for h in in_scope if h not in left_out]
    g = {name: _gauge(registry, f"{prefix}_host_{name}", doc, ["host"]) for name, doc in (
        ("checked", "1 when the last run checked the host and gave it a verdict."),
        ("reachable", "0 when the last run could not reach the host."),
        ("failed", "1 when the host failed alone (refused, a failed read)."),
        ("skipped", "1 when the host was left out on purpose (maintenance)."))}
    for h in in_scope:
        g["checked"].labels(h).set(1 if h in checked else 0)
        g["reachable"].labels(h).set(0 if h in cov["unreachable"] else 1)
        g["failed"].labels(h).set(1 if h in cov["failed"] else 0)
        g["skipped"].labels(h).set(1 if h in cov["skipped"] else 0)
    return checked


def drift_registry(report: dict, success: float | None, concerns: tuple[str, ...]):
    """drift.py's series; ``concerns``: every name drift items are recorded under (each gets
    its series for each checked host, 0 when there is nothing: dockwright.concerns.drift_keys)."""
    from prometheus_client import CollectorRegistry
    registry = CollectorRegistry()
    checked = host_series(registry, "dockwright_drift", report)
    items = _gauge(registry, "dockwright_drift_items", "Drifted items found by the last run, per checked host "
                   "and concern.", ["host", "concern"])
    fixed = _gauge(registry, "dockwright_drift_fixed_items", "Drifted items the last run corrected (with --fix), "
                   "per checked host.", ["host"])
    deferred = _gauge(registry, "dockwright_drift_deferred_items", "Drifted items left for the fix window, per "
                      "checked host.", ["host"])
    for h in checked:
        found = report["drift"].get(h, [])
        for concern in sorted(concerns):
            items.labels(h, concern).set(sum(1 for i in found if i.get("concern") == concern))
        fixed.labels(h).set(len(found) if h in (report.get("fixed_hosts") or []) else 0)
        deferred.labels(h).set(len((report.get("deferred") or {}).get(h, [])))
    run_series(registry, "dockwright_drift", report, success)
    return registry
