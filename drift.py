"""Scheduled drift detection and correction for a dockwright fleet.

    python drift.py INVENTORY [--fix] [--json FILE] [--metrics FILE] [--limit HOSTS] [--shard I/N]
    python drift.py merge SHARD.json... [--json FILE] [--metrics FILE]

Plans a deploy without changing anything (pyinfra --dry; its exit code does not tell whether
anything would change, so the plan is read), lists every drifted item per host, and with --fix
applies the deploy (which ends with the verification suite).

Exit codes: 0 no drift; 2 drift found (and, with --fix, corrected and verified); 1 a failure:
an unreachable host, a host that failed alone (named with its reason), invalid data, a failed
fix or verification, another run holding the lock, or (merge) a missing or repeated shard;
64 a usage error (never 2, which a scheduler counts as "drift").
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

# The plans' items module; "report" is this file's word for the fleet report (a dict).
from dockwright.plumbing import report as item_report
from dockwright.plumbing.runs import (EXIT_FAILURE, EXIT_FOUND as EXIT_DRIFT, EXIT_OK, REPO, Parser, fleet_parser,
                                      hosts_outcome, label as _label, limit_args, pyinfra_flags, read_reports, run_locked,
                                      run_pyinfra, shard_hosts, shard_problems, write_atomic as _write_atomic)

PYINFRA = [sys.executable, "-m", "pyinfra"]


def plan(inventory: str, limit: str | None, passed: list[str] = ()) -> dict:
    """Plans a deploy without changing anything, with pyinfra's own CLI in this process, and
    reads the outcome from pyinfra's state (never from its log text):
    {"plan": [...], "items": [...], "hosts": [...], "unreachable": [...], "error": str|None}."""
    from dockwright import pyinfra_internals

    item_report.reset()
    item_report.SHOW_PLANNED = False  # listed by drift.py itself, per host
    # No -y: with it pyinfra skips change detection and the plan is empty. --json: pyinfra's
    # non-interactive mode, which never stops at "hosts failed to connect, continue?" (its JSON
    # on stdout is not needed: the state is read here).
    state, error = run_pyinfra([inventory, "deploy.py", "--dry", "--json", *passed,
                                "--data", 'verify={"after_deploy": false}', *limit_args(limit)])
    if state is None:
        return {"plan": [], "items": [], "hosts": [], "unreachable": [], "failed": {},
                "error": error or "pyinfra did not start"}
    return outcome(state, pyinfra_internals.plan_json(state), item_report.collected(), error, item_report.failures())


def merge(reports: list[dict]) -> dict:
    """One fleet report from the shards' reports, with the same exit-code rules; a missing or
    repeated shard makes the fleet's result a failure that names it."""
    codes = [r["exit_code"] for r in reports]
    errors = [f"shard {r['shard'][0] if r.get('shard') else i + 1}: {r['error']}"
              for i, r in enumerate(reports) if r.get("error")]
    missing = shard_problems(reports)
    errors += missing
    return {
        "inventory": reports[0]["inventory"] if reports else None,
        "shards": len(reports),
        "started": min((r["started"] for r in reports), default=0),
        "finished": max((r["finished"] for r in reports), default=0),
        "duration": max((r["finished"] for r in reports), default=0) - min((r["started"] for r in reports), default=0),
        "drift": {h: items for r in reports for h, items in r["drift"].items()},
        "hosts": sorted({h for r in reports for h in r["hosts"]}),
        "unreachable": sorted({h for r in reports for h in r["unreachable"]}),
        "failed": {h: why for r in reports for h, why in (r.get("failed") or {}).items()},
        "error": "; ".join(errors) or None,
        "fixed": all(r.get("fixed") for r in reports if r["exit_code"] == EXIT_DRIFT) and EXIT_DRIFT in codes,
        "exit_code": EXIT_FAILURE if EXIT_FAILURE in codes or missing else EXIT_DRIFT if EXIT_DRIFT in codes else EXIT_OK,
    }


def outcome(state, plan_json: list[dict], items: list[dict], error: str | None,
            reasons: dict[str, str] | None = None) -> dict:
    """The plan's result from pyinfra's state: hosts of this run, those it could not connect
    to, and the hosts that failed alone, each with its reason (runs.hosts_outcome)."""
    in_run, unreachable, failed = hosts_outcome(state, reasons)
    return {"plan": plan_json, "items": items, "hosts": in_run, "unreachable": unreachable,
            "failed": failed, "error": error}


def drift_items(result: dict) -> dict[str, list[dict]]:
    """Per host, every drifted item the operations recorded, plus any planned change that no
    item of the same operation explains (then named by the operation)."""
    per_host: dict[str, list[dict]] = {}
    explained = set()
    for item in result["items"]:
        per_host.setdefault(item["host"], []).append(item)
        explained.add((item["host"], item.get("op")))
    for op in result["plan"]:
        concern = op["name"].split(":", 1)[0]
        for host in op.get("hosts_with_change", []) + op.get("hosts_with_conditional_change", []):
            if (host, op["op_hash"]) not in explained:
                per_host.setdefault(host, []).append(
                    {"host": host, "op": op["op_hash"], "concern": concern, "key": op["name"],
                     "desired": None, "actual": None})
    return per_host


def metrics_text(report: dict, previous_success: float | None) -> str:
    """The Prometheus textfile: written with the standard library only (drift.py merge runs
    without the venv), label values escaped as the text format says. Every host checked gets
    a dockwright_drift_items series per concern found anywhere in the run, 0 when clean, so a
    host's series never vanishes when its drift is fixed."""
    lines = [
        "# HELP dockwright_drift_items Drifted items found by the last run, per host and concern.",
        "# TYPE dockwright_drift_items gauge",
    ]
    counts: dict[tuple[str, str], int] = {}
    for host, items in report["drift"].items():
        for item in items:
            counts[(host, item["concern"])] = counts.get((host, item["concern"]), 0) + 1
    concerns = sorted({c for _, c in counts} | {"docker", "sysctl"})
    checked = [h for h in report["hosts"] if h not in report["unreachable"] and h not in (report.get("failed") or {})]
    for host in sorted(set(checked) | {h for h, _ in counts}):
        for concern in concerns:
            lines.append(f'dockwright_drift_items{{host="{_label(host)}",concern="{_label(concern)}"}} '
                         f'{counts.get((host, concern), 0)}')
    lines += ["# HELP dockwright_drift_fixed_items Drifted items the last run corrected (with --fix), per host.",
              "# TYPE dockwright_drift_fixed_items gauge"]
    for host in sorted(set(checked) | set(report["drift"])):
        fixed = len(report["drift"].get(host, [])) if report.get("fixed") else 0
        lines.append(f'dockwright_drift_fixed_items{{host="{_label(host)}"}} {fixed}')
    lines += ["# HELP dockwright_drift_host_reachable 1 when the last run reached the host.",
              "# TYPE dockwright_drift_host_reachable gauge"]
    for host in sorted(report["hosts"]):
        lines.append(f'dockwright_drift_host_reachable{{host="{_label(host)}"}} {0 if host in report["unreachable"] else 1}')
    lines += ["# HELP dockwright_drift_host_failed 1 when the host failed alone (refused, a failed read).",
              "# TYPE dockwright_drift_host_failed gauge"]
    for host in sorted(report["hosts"]):
        lines.append(f'dockwright_drift_host_failed{{host="{_label(host)}"}} {1 if host in (report.get("failed") or {}) else 0}')
    success = report["finished"] if report["exit_code"] != EXIT_FAILURE else previous_success
    lines += [
        "# HELP dockwright_drift_last_run_timestamp_seconds When the last run finished.",
        "# TYPE dockwright_drift_last_run_timestamp_seconds gauge",
        f"dockwright_drift_last_run_timestamp_seconds {report['finished']:.0f}",
        "# HELP dockwright_drift_last_success_timestamp_seconds When a run last finished without failure.",
        "# TYPE dockwright_drift_last_success_timestamp_seconds gauge",
        f"dockwright_drift_last_success_timestamp_seconds {success or 0:.0f}",
        "# HELP dockwright_drift_duration_seconds How long the last run took.",
        "# TYPE dockwright_drift_duration_seconds gauge",
        f"dockwright_drift_duration_seconds {report['duration']:.1f}",
        "# HELP dockwright_drift_exit_code Exit code of the last run (0 clean, 2 drift, 1 failure).",
        "# TYPE dockwright_drift_exit_code gauge",
        f"dockwright_drift_exit_code {report['exit_code']}",
    ]
    return "\n".join(lines) + "\n"


def _previous_success(metrics: Path | None) -> float | None:
    if metrics and metrics.exists():
        m = re.search(r"^dockwright_drift_last_success_timestamp_seconds (\S+)$", metrics.read_text(), re.M)
        if m and float(m.group(1)) > 0:
            return float(m.group(1))
    return None


def run(args) -> int:
    started = time.time()
    if args.shard:
        index, count = args.shard
        args.limit = ",".join(shard_hosts(args.inventory, index, count, args.limit))
        print(f"dockwright drift: shard {index}/{count}: {len(args.limit.split(',')) if args.limit else 0} host(s)")
        if not args.limit:
            return _finish(args, {"inventory": args.inventory, "started": started, "drift": {}, "unreachable": [],
                                  "failed": {}, "error": None, "fixed": False}, EXIT_OK, [])
    result = plan(args.inventory, args.limit, pyinfra_flags(args))
    found = drift_items(result)
    hosts = sorted(set(result["hosts"]) | set(found) | set(result["unreachable"]))
    # A failed host's items are shown (what it found before it failed) but it is not fixed.
    per_host = {h: items for h, items in found.items() if h not in result["failed"] and h not in result["unreachable"]}
    report = {"inventory": args.inventory, "started": started, "drift": per_host,
              "unreachable": result["unreachable"], "failed": result["failed"], "error": result["error"],
              "fixed": False}

    print(f"dockwright drift: {args.inventory}")
    for host in hosts:
        if host in result["unreachable"]:
            print(f"  {host}: UNREACHABLE (not checked)")
            continue
        if host in result["failed"]:
            print(f"  {host}: FAILED: {result['failed'][host]}")
        elif host not in per_host:
            print(f"  {host}: no drift")
        else:
            print(f"  {host}: {len(per_host[host])} drifted item(s)")
        for i in found.get(host, []):
            print(f"    {item_report.line(i)}")
    if result["error"]:
        print(f"  error: {result['error']}")

    code = EXIT_DRIFT if per_host else EXIT_OK
    # A host that failed alone does not stop the others being fixed; a run-level error does.
    if per_host and args.fix and not result["error"]:
        print(f"dockwright drift: fixing {len(per_host)} host(s) (deploy, then verification)")
        cmd = [*PYINFRA, args.inventory, "deploy.py", "-y", *pyinfra_flags(args),
               *limit_args(",".join(sorted(per_host)))]
        fix = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        report["fixed"] = fix.returncode == 0
        tail = (fix.stdout + fix.stderr).strip().splitlines()[-60:]
        print("\n".join(f"    {line}" for line in tail))
        if fix.returncode != 0:
            report["error"] = "fix failed (see output above)"
    if result["error"] or result["unreachable"] or result["failed"] or report["error"]:
        code = EXIT_FAILURE

    return _finish(args, report, code, hosts)


def _write_outputs(args, report: dict) -> None:
    """The JSON report and the Prometheus textfile, where the command line asks for them."""
    if args.json:
        _write_atomic(Path(args.json), json.dumps(report, indent=1, sort_keys=True, default=str) + "\n")
    if args.metrics:
        metrics = Path(args.metrics)
        _write_atomic(metrics, metrics_text(report, _previous_success(metrics)), 0o644)


def _finish(args, report: dict, code: int, hosts: list[str]) -> int:
    report.update(exit_code=code, finished=time.time(), duration=time.time() - report["started"],
                  hosts=hosts, shard=list(args.shard) if args.shard else None)
    _write_outputs(args, report)
    print(f"dockwright drift: exit {code} "
          f"({ {0: 'no drift', 1: 'failure', 2: 'drift found' + (' and fixed' if report['fixed'] else '')}[code] })")
    return code


def merge_main(argv: list[str]) -> int:
    parser = Parser(prog="drift.py merge", description="Combine the shards' JSON reports "
                                     "into one fleet report (and Prometheus textfile); exits with the fleet's code.")
    parser.add_argument("reports", nargs="+", help="the shards' --json files")
    parser.add_argument("--json", help="write the fleet report here")
    parser.add_argument("--metrics", help="write the fleet's Prometheus textfile here")
    args = parser.parse_args(argv)
    reports = read_reports(args.reports, "dockwright drift")
    if reports is None:
        return EXIT_FAILURE
    fleet = merge(reports)
    _write_outputs(args, fleet)
    if fleet["error"]:
        print(f"dockwright drift: {fleet['error']}")
    print(f"dockwright drift: {fleet['shards']} shard(s), {len(fleet['hosts'])} host(s), "
          f"{len(fleet['drift'])} with drift, {len(fleet['unreachable'])} unreachable: exit {fleet['exit_code']}")
    return fleet["exit_code"]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    parser = fleet_parser(__doc__, "for the plan and the fix")
    parser.add_argument("--fix", action="store_true", help="apply and verify when drift is found")
    return run_locked(parser.parse_args(argv), "dockwright drift", run)

if __name__ == "__main__":
    sys.exit(main())
