"""One self-contained HTML page per run: the verdict, a host x concern grid, each host's items,
findings and failed checks, the trend over earlier runs and netbench's figure, from the JSON
reports dockwright writes (drift, diagnose, verification, netbench; merged shards too).

No network access and nothing external: the page's data is one JSON block (jinja2's ``tojson``,
which escapes ``<``, ``>`` and ``&``), its script reads it and writes every host or data string
as text (``textContent``), never as markup. ``model`` is pure (reports in, the page's data out);
``render`` applies templates/report/page.html.j2 with autoescaping on.
"""

import base64
import time
from pathlib import Path

from ..concerns import drift_keys

# The grid's columns: the names the concerns record drift items under (dockwright.concerns:
# drift_keys), then diagnose and verify.
# A cell's states, best first; a host's row sorts and groups by its worst cell.
STATES = ("clean", "deferred", "drift", "finding", "failed", "refused", "unreachable", "not checked", "skipped")
WORST_FIRST = ("unreachable", "refused", "failed", "not checked", "drift", "finding", "deferred", "skipped", "clean")


def kind_of(report: dict) -> str:
    if report.get("kind") in ("drift", "diagnose", "verify", "netbench"):
        return report["kind"]
    if "results" in report and "exitstatus" in report:
        return "verify"
    if "rounds" in report and "summary" in report:
        return "netbench"
    raise ValueError("not a dockwright report (drift, diagnose, verification or netbench JSON)")


def _worst(states) -> str:
    states = set(states)
    return next((s for s in WORST_FIRST if s in states), "clean")


def _run_cells(report: dict, host: str) -> str | None:
    """The state a run gives every cell of a host it did not judge, or None."""
    if host in (report.get("skipped") or {}):
        return "skipped"
    if host in (report.get("unreachable") or {}):
        return "unreachable"
    if host in (report.get("not_checked") or {}):
        return "not checked"
    why = (report.get("failed") or {}).get(host)
    if why is not None:
        return "refused" if str(why).startswith("refused") else "failed"
    return None


def model(reports: list[dict], previous: list[dict] = (), png: bytes | None = None) -> dict:
    """The page's data from this run's reports, and earlier drift/diagnose reports for the trend."""
    by_kind: dict[str, list[dict]] = {}
    for r in reports:
        by_kind.setdefault(kind_of(r), []).append(r)
    hosts: dict[str, dict] = {}

    def host(name: str) -> dict:
        return hosts.setdefault(name, {"name": name, "groups": [], "cells": {}, "items": [], "findings": [],
                                       "checks": [], "why": []})

    verdict = dict.fromkeys(("in_scope", "checked", "unreachable", "failed", "skipped", "not_checked",
                             "deferred"), 0)
    runs = []
    for kind in ("drift", "diagnose"):
        for r in by_kind.get(kind, []):
            runs.append({k: r.get(k) for k in ("kind", "inventory", "started", "finished", "duration", "exit_code",
                                               "error")})
            cov = r.get("coverage") or {}
            if kind == "drift":
                for k in ("in_scope", "checked"):
                    verdict[k] += cov.get(k, 0)
                for k in ("unreachable", "failed", "skipped", "not_checked"):
                    verdict[k] += len(cov.get(k) or {})
                verdict["deferred"] += len(r.get("deferred") or {})
            for name in r.get("hosts") or []:
                h = host(name)
                h["groups"] = sorted(set(h["groups"]) | set((r.get("groups") or {}).get(name, [])))
                state = _run_cells(r, name)
                if state:
                    for key in ("unreachable", "failed", "skipped", "not_checked"):
                        if name in (r.get(key) or {}):
                            h["why"].append(f"{kind}: {key.replace('_', ' ')}: {r[key][name]}")
                columns = drift_keys() if kind == "drift" else ("diagnose",)
                for c in columns:
                    h["cells"][c] = _worst([h["cells"].get(c, "clean"), state or "clean"])
            if kind == "drift":
                for name, items in (r.get("drift") or {}).items():
                    for i in items:
                        host(name)["items"].append({k: i.get(k) for k in ("concern", "key", "desired", "actual")})
                        c = i.get("concern")
                        host(name)["cells"][c] = _worst([host(name)["cells"].get(c, "clean"), "drift"])
                for name, items in (r.get("deferred") or {}).items():
                    for i in items:
                        host(name)["items"].append({**{k: i.get(k) for k in ("concern", "key", "desired", "actual")},
                                                    "why": i.get("why")})
                        c = i.get("concern")
                        host(name)["cells"][c] = _worst([host(name)["cells"].get(c, "clean"), "deferred"])
            else:
                for f in r.get("findings") or []:
                    h = host(f["host"])
                    h["findings"].append({k: f.get(k) for k in ("severity", "scope", "check", "value", "threshold",
                                                               "fix")})
                    h["cells"]["diagnose"] = _worst([h["cells"].get("diagnose", "clean"), "finding"])
    passed = failed = 0
    for r in by_kind.get("verify", []):
        for row in r.get("results") or []:
            ok = row.get("outcome") in ("passed", "skipped")
            passed += row.get("outcome") == "passed"
            failed += not ok
            h = host(row["host"])
            if not ok:
                h["checks"].append({"check": row.get("check"), "message": row.get("message")})
            h["cells"]["verify"] = _worst([h["cells"].get("verify", "clean"), "clean" if ok else "failed"])
    columns = [c for c in (*drift_keys(), "diagnose", "verify") if any(c in h["cells"] for h in hosts.values())]
    rows = []
    for h in sorted(hosts.values(), key=lambda x: x["name"]):
        h["state"] = _worst(h["cells"].get(c, "clean") for c in columns)
        rows.append(h)
    severities = {"critical": 0, "warning": 0, "info": 0}
    by_concern: dict[str, int] = {}
    for h in rows:
        for f in h["findings"]:
            severities[f["severity"]] = severities.get(f["severity"], 0) + 1
        for i in h["items"]:
            by_concern[i["concern"]] = by_concern.get(i["concern"], 0) + 1
    trend = []
    for r in sorted([*previous, *by_kind.get("drift", []), *by_kind.get("diagnose", [])],
                    key=lambda x: x.get("finished") or 0):
        kind = kind_of(r)
        value = sum(len(v) for v in (r.get("drift") or {}).values()) if kind == "drift" else len(r.get("findings") or [])
        trend.append({"kind": kind, "at": r.get("finished") or 0, "value": value})
    return {
        "generated": time.time(), "runs": runs, "verdict": verdict, "drift_by_concern": dict(sorted(by_concern.items())),
        "findings_by_severity": [[s, n] for s, n in severities.items()],  # lists: tojson sorts keys
        "checks": {"passed": passed, "failed": failed},
        "columns": columns, "hosts": rows, "trend": trend,
        "netbench_png": "data:image/png;base64," + base64.b64encode(png).decode() if png else None,
        "netbench": [{"client": r["client"]["name"], "server": r["server"]["name"]} for r in by_kind.get("netbench", [])],
    }


def render(data: dict) -> str:
    from .. import templating
    return templating.render_html("report/page.html.j2", data=data)


def write(path: Path, reports: list[dict], previous: list[dict] = (), png: bytes | None = None) -> Path:
    """The page for these reports, written whole (0600: it names hosts and values, as the reports do)."""
    from ..cli import write_atomic
    write_atomic(Path(path), render(model(reports, previous, png)))
    return Path(path)
