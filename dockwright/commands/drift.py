"""Scheduled drift detection and correction for a dockwright fleet.

    dockwright drift INVENTORY [--fix] [--json FILE] [--metrics FILE] [--limit HOSTS] [--shard I/N]
                               [--max-unreachable N|P%] [--progress compact]
    dockwright drift merge SHARD.json... [--json FILE] [--metrics FILE]

(``python drift.py ...`` in a checkout is the same, run in that checkout wherever it is started.)
It works in the project of the current directory: its inventories, group_data/, its deploy.py
(the packaged deploy where it has none) and reports/.

Plans a deploy without changing anything (pyinfra --dry; its exit code does not tell whether
anything would change, so the plan is read), lists every drifted item per host, and with --fix
applies the deploy (which ends with the verification suite) to the drifted hosts.

Every verdict states its coverage: the hosts in scope, those checked, and each one not checked
with why (unreachable, failed, skipped for maintenance, not checked because the run stopped).
Hosts whose data holds ``maintenance`` are left out (skipped, never unreachable).

Exit codes: 0 every host in scope checked and no drift; 2 drift found (and, with --fix,
corrected and verified); 1 a failure: an inventory that is not one or yields no host, a --limit
that matches no host, an unreachable host beyond --max-unreachable (default 0), a host that
failed alone (named with its reason), invalid data, a run that stopped before its verdict, a
failed fix or verification, another run holding the lock, or (merge) a missing or repeated
shard; 64 a usage error (never 2, which a scheduler counts as "drift").
"""

import json
import subprocess
import sys
import time
from pathlib import Path

# The plans' items module; "report" is this file's word for the fleet report (a dict).
from dockwright import outcomes as item_report
from dockwright.commands import write_outputs
from dockwright.coverage import (Coverage, inventory_problem, run_error, scope_problems,
                                          within_budget)
from dockwright.cli import (EXIT_FAILURE, EXIT_FOUND as EXIT_DRIFT, EXIT_OK, Parser, deploy_file, fleet_parser,
                                      hosts_outcome, limit_args, limit_matches, op_name, pyinfra_flags, read_reports,
                                      project, run_locked, run_pyinfra, shard_problems, shard_scope, in_project)

PYINFRA = [sys.executable, "-m", "pyinfra"]
SCHEMA_VERSION = 2  # docs/schema/drift-report.json
WHO = "dockwright drift"


def plan(inventory: str, limit: str | None, passed: list[str] = (), compact: bool = False) -> dict:
    """Plans a deploy without changing anything, with pyinfra's own CLI in this process, and
    reads the outcome from pyinfra's state (never from its log text):
    {"plan", "items", "all_hosts", "hosts", "unreachable", "failed", "skipped", "warnings", "error",
    "scope_problems"}."""
    from dockwright import pyinfra_internals

    # No -y: with it pyinfra skips change detection and the plan is empty. --json: pyinfra's
    # non-interactive mode, which never stops at "hosts failed to connect, continue?" (its JSON
    # on stdout is not needed: the state is read here).
    state, error = run_pyinfra([inventory, deploy_file(), "--dry", "--json", *passed,
                                "--data", 'verify={"after_deploy": false}', *limit_args(limit)],
                               compact="dockwright drift" if compact else None)
    if state is None or getattr(state, "inventory", None) is None:
        return {"plan": [], "items": [], "all_hosts": [], "hosts": [], "unreachable": {}, "failed": {}, "skipped": {},
                "policies": {}, "groups": {},
                "warnings": [], "error": error or "pyinfra did not start", "scope_problems": []}
    return outcome(state, pyinfra_internals.plan_json(state), item_report.collected(state), error,
                   item_report.failures(state), inventory, limit)


def merge(reports: list[dict]) -> dict:
    """One fleet report from the shards' reports, with the same exit-code rules; a missing or
    repeated shard makes the fleet's result a failure that names it."""
    codes = [r["exit_code"] for r in reports]
    errors = [f"shard {r['shard'][0] if r.get('shard') else i + 1}: {r['error']}"
              for i, r in enumerate(reports) if r.get("error")]
    missing = shard_problems(reports)
    errors += missing
    merged = {
        "schema_version": SCHEMA_VERSION, "kind": "drift",
        "inventory": reports[0]["inventory"] if reports else None,
        "shards": len(reports),
        "started": min((r["started"] for r in reports), default=0),
        "finished": max((r["finished"] for r in reports), default=0),
        "duration": max((r["finished"] for r in reports), default=0) - min((r["started"] for r in reports), default=0),
        "drift": {h: items for r in reports for h, items in r["drift"].items()},
        "hosts": sorted({h for r in reports for h in r["hosts"]}),
        "error": "; ".join(errors) or None,
        "warnings": sorted({w for r in reports for w in r.get("warnings") or []}),
        "fixed": all(r.get("fixed") for r in reports if r["exit_code"] == EXIT_DRIFT) and EXIT_DRIFT in codes,
        "fixed_hosts": sorted({h for r in reports for h in r.get("fixed_hosts") or []}),
        "deferred": {h: v for r in reports for h, v in (r.get("deferred") or {}).items()},
        "exit_code": EXIT_FAILURE if EXIT_FAILURE in codes or missing else EXIT_DRIFT if EXIT_DRIFT in codes else EXIT_OK,
    }
    for kind in ("unreachable", "failed", "skipped", "not_checked"):
        merged[kind] = dict(sorted((h, why) for r in reports for h, why in (r.get(kind) or {}).items()))
    merged["coverage"] = Coverage.of(merged).as_dict()
    return merged


def outcome(state, plan_json: list[dict], items: list[dict], error: str | None,
            reasons: dict[str, str] | None = None, inventory: str = "", limit: str | None = None) -> dict:
    """The plan's result from pyinfra's state: hosts of this run, those it could not connect
    to, those left out (maintenance) and the hosts that failed alone, each with its reason
    (runs.hosts_outcome); and whatever makes the scope itself wrong."""
    from dockwright import run
    from dockwright import model
    in_run, unreachable, failed, skipped = hosts_outcome(state, reasons)
    all_hosts = sorted(h.name for h in state.inventory)
    policies = {}
    for h in state.inventory:
        if h.name in in_run and h.name not in skipped:
            try:
                policies[h.name] = model.desired(h).get("drift")
            except Exception:  # noqa: BLE001 - data that does not merge has failed validation already
                policies[h.name] = None
    groups = {h.name: sorted(g for g in getattr(h, "groups", ()) if g != "all") for h in state.inventory if h.name in in_run}
    return {"plan": plan_json, "items": items, "all_hosts": all_hosts, "hosts": in_run, "unreachable": unreachable,
            "policies": policies, "groups": groups,
            "failed": failed, "skipped": skipped, "error": error, "warnings": list(run.of_state(state).warnings),
            "scope_problems": scope_problems(inventory, all_hosts, in_run, limit,
                                             lambda p: limit_matches(state.inventory, p))}


def drift_items(result: dict) -> dict[str, list[dict]]:
    """Per host, every drifted item the operations recorded, plus any planned change that no
    item of the same operation explains (then named by the operation)."""
    per_host: dict[str, list[dict]] = {}
    explained = set()
    for item in result["items"]:
        per_host.setdefault(item["host"], []).append(item)
        explained.add((item["host"], item.get("op")))
    for op in result["plan"]:
        name = op_name(op)
        concern = name.split(":", 1)[0]
        for host in op.get("hosts_with_change", []) + op.get("hosts_with_conditional_change", []):
            if (host, op["op_hash"]) not in explained:
                per_host.setdefault(host, []).append(
                    {"host": host, "op": op["op_hash"], "concern": concern, "key": name,
                     "desired": None, "actual": None})
    return per_host


def _new_report(args, started: float) -> dict:
    return {"schema_version": SCHEMA_VERSION, "kind": "drift", "inventory": args.inventory, "started": started,
            "limit": args.limit, "hosts": [], "drift": {}, "unreachable": {}, "failed": {}, "skipped": {},
            "not_checked": {}, "deferred": {}, "warnings": [], "error": None, "fixed": False, "fix": None}


def _public(item: dict) -> dict:
    """An item as the report holds it: named by concern and key (pyinfra's operation hash is
    this process's join key, not a name)."""
    return {k: v for k, v in item.items() if k != "op"}


VERIFY_OP = "verify: testinfra suite"



def fix(inventory: str, hosts: list[str], passed: list[str], off: tuple = ()) -> dict:
    """The deploy on the drifted hosts (then the verification), in its own pyinfra process;
    each host's outcome read from pyinfra's JSON results, the hosts that process declared
    unreachable (dockwright.liveness, in a private file) and the verification's own report
    (never pyinfra's log text): {"fixed": [...], "failed": {host: why}, "unreachable": {host:
    why}, "rc": int, "tail": [...]}. A host that failed its own checks carries the blame, never
    the host the suite happened to run on."""
    import os
    import tempfile

    from dockwright import liveness
    # Concerns left for the fix window are switched off for this run (the verification then
    # leaves them alone too).
    skip = ["--data", "concerns=" + json.dumps({c: False for c in off})] if off else []
    cmd = [*PYINFRA, inventory, deploy_file(), "-y", "--json", *passed, *skip, *limit_args(",".join(hosts))]
    fd, told = tempfile.mkstemp(prefix="dockwright-fix-", suffix=".tsv")
    os.close(fd)
    verify_report = project() / "reports" / "verify.json"
    started = time.time()
    try:
        proc = subprocess.run(cmd, cwd=project(), capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              env=dict(os.environ, **{liveness.OUTCOME_ENV: told}))
        declared = dict(line.split("\t", 1) for line in Path(told).read_text().splitlines() if "\t" in line)
    finally:
        os.unlink(told)
    tail = (proc.stdout[:proc.stdout.find('{"plan"')] if '{"plan"' in proc.stdout else proc.stdout)
    tail = (tail + proc.stderr).strip().splitlines()[-60:]
    results = None
    if '{"plan"' in proc.stdout:
        try:
            results = json.loads(proc.stdout[proc.stdout.find('{"plan"'):proc.stdout.rindex("}") + 1])["results"]
        except (ValueError, KeyError):
            results = None
    out = {"fixed": [], "failed": {}, "unreachable": {}, "rc": proc.returncode, "tail": tail}
    if results is None:
        out["failed"] = {h: f"the fix's deploy ended without results (exit {proc.returncode})" for h in hosts}
        return out
    errors: dict[str, list[str]] = {}
    verify_failed, suite_hosts = False, set()
    for op in results.get("operations") or []:
        if op_name(op) == VERIFY_OP:
            verify_failed = verify_failed or bool(op.get("error"))
            suite_hosts |= set(op.get("error") or [])  # where the suite ran: judged by their own checks
            continue
        for h in op.get("error") or []:
            errors.setdefault(h, []).append(op.get("name") or "an operation")
    checks = verification_failures(verify_report, started) if verify_failed else {}
    dead = set(results.get("failed_hosts") or []) - suite_hosts
    for h in hosts:
        if h in declared:
            out["unreachable"][h] = f"lost during the fix: {declared[h]}"
        elif h in errors:
            out["failed"][h] = "failed during the fix: " + ", ".join(errors[h])
        elif h in dead:
            out["unreachable"][h] = "lost during the fix (pyinfra failed the host with no operation error)"
        elif verify_failed and checks is None:
            out["failed"][h] = "the verification after the fix did not complete (reports/verify.json)"
        elif h in checks:
            out["failed"][h] = f"verification failed after the fix: {checks[h]}"
        else:
            out["fixed"].append(h)
    if proc.returncode != 0 and not out["failed"] and not out["unreachable"]:
        out["failed"] = {h: f"the fix's deploy exited {proc.returncode}" for h in hosts}
        out["fixed"] = []
    return out


def verification_failures(path: Path, since: float) -> dict[str, str] | None:
    """{host: its failed checks, in short} from the verification's own report written after
    since; None when there is no such report (the suite did not complete)."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if report.get("time", 0) < since:
        return None
    failed: dict[str, list[str]] = {}
    for r in report.get("results") or []:
        if r.get("outcome") not in ("passed", "skipped"):
            failed.setdefault(r["host"], []).append(r["check"])
    return {h: f"{len(c)} check(s) failed: {', '.join(sorted(c)[:3])}" + (", ..." if len(c) > 3 else "")
            for h, c in failed.items()}


def fix_fleet(args, per_host: dict, policies: dict, report: dict) -> dict | None:
    """The fix, as the policy allows it: everything for a person's --fix; with --unattended,
    the data's drift policy per host (plans.fixpolicy), deferred items recorded in the report.
    Hosts that need the same concerns left alone are fixed in one run."""
    from dockwright.plans import fixpolicy
    groups: dict[tuple, list[str]] = {}
    for host, items in sorted(per_host.items()):
        if not args.unattended:
            groups.setdefault((), []).append(host)
            continue
        decided = fixpolicy.plan(items, policies.get(host))
        if decided.deferred:
            report["deferred"][host] = [dict(item, why=why) for item, why in decided.deferred]
            for item, why in decided.deferred:
                print(f"  {host}: {why}: {item_report.line(item)}")
        if decided.fix:
            groups.setdefault(decided.off, []).append(host)
    if not groups:
        return None
    total = {"fixed": [], "failed": {}, "unreachable": {}, "rc": 0, "tail": []}
    for off, hosts in sorted(groups.items()):
        print(f"{WHO}: fixing {len(hosts)} host(s) (deploy, then verification)"
              + (f", leaving {', '.join(off)} for the fix window" if off else ""), flush=True)
        got = fix(args.inventory, hosts, pyinfra_flags(args), off)
        total["fixed"] += got["fixed"]
        total["failed"].update(got["failed"])
        total["unreachable"].update(got["unreachable"])
        total["rc"] = total["rc"] or got["rc"]
        total["tail"] += got["tail"]
    return total


def run(args) -> int:
    started = time.time()
    report = _new_report(args, started)
    if problem := inventory_problem(args.inventory):
        report["error"] = problem
        return _finish(args, report, EXIT_FAILURE)
    if args.shard:
        index, count = args.shard
        mine, total = shard_scope(args.inventory, index, count, args.limit)
        print(f"{WHO}: shard {index}/{count}: {len(mine)} host(s) of {total}")
        if not mine:
            if total >= count:
                report["error"] = (f"shard {index}/{count} has no host although {total} host(s) are in scope: "
                                   "an inventory or --limit that changed between shards?")
                return _finish(args, report, EXIT_FAILURE)
            report["warnings"].append(f"shard {index}/{count}: no host (the fleet of {total} is smaller "
                                      f"than the shard count)")
            return _finish(args, report, EXIT_OK)
        args.limit = ",".join(mine)
    result = plan(args.inventory, args.limit, pyinfra_flags(args), args.progress == "compact")
    report["warnings"] += result["warnings"]
    cov = Coverage.of(result)
    error = "; ".join(result["scope_problems"]) or run_error(result["error"], cov)
    if error:  # the run stopped before its verdict: no host that was not judged reads as clean
        why = f"the run stopped before its verdict: {error}"
        cov.not_checked = {h: why for h in cov.checked}
    found = drift_items(result)
    checked = set(cov.checked)
    per_host = {h: [_public(i) for i in items] for h, items in found.items() if h in checked}
    report.update(hosts=result["hosts"], drift=per_host, error=error, groups=result["groups"])

    print(f"{WHO}: {args.inventory}")
    for host in result["hosts"]:
        if host in cov.skipped:
            print(f"  {host}: SKIPPED: {cov.skipped[host]}")
        elif host in cov.unreachable:
            print(f"  {host}: UNREACHABLE: {cov.unreachable[host]}")
        elif host in cov.failed:
            print(f"  {host}: FAILED: {cov.failed[host]}")
        elif host in cov.not_checked:
            print(f"  {host}: NOT CHECKED")
        elif host not in per_host:
            print(f"  {host}: no drift")
        else:
            print(f"  {host}: {len(per_host[host])} drifted item(s)")
        if host in checked or host in cov.failed:  # a failed host's items: what it found before it failed
            for i in found.get(host, []):
                print(f"    {item_report.line(i)}")
    if error:
        print(f"  error: {error}")
    for warning in report["warnings"]:
        print(f"  warning: {warning}")

    # A host that failed alone does not stop the others being fixed; a run-level error does.
    if per_host and args.fix and not error:
        outcome_ = fix_fleet(args, per_host, result["policies"], report)
    else:
        outcome_ = None
    if outcome_ is not None:
        print("\n".join(f"    {line}" for line in outcome_["tail"]))
        report["fix"] = {k: outcome_[k] for k in ("fixed", "failed", "unreachable", "rc")}
        for h, why in outcome_["unreachable"].items():
            print(f"  {h}: UNREACHABLE during the fix: {why}")
            cov.unreachable[h] = why
        for h, why in outcome_["failed"].items():
            print(f"  {h}: FAILED during the fix: {why}")
            cov.failed[h] = why
        for h in outcome_["fixed"]:
            print(f"  {h}: fixed and verified")
        complete = not outcome_["failed"] and not outcome_["unreachable"]
        report["fixed"] = complete and not report["deferred"]
        report["fixed_hosts"] = outcome_["fixed"]
        if not complete:
            report["error"] = "the fix did not complete on every host (each named above)"

    report["coverage"] = cov.as_dict()
    report.update({k: report["coverage"][k] for k in ("unreachable", "failed", "skipped", "not_checked")})
    return _finish(args, report, verdict(report, cov, args.max_unreachable))


def verdict(report: dict, cov: Coverage, budget: str | None) -> int:
    """The exit code: a failure whenever the verdict does not cover the scope it claims."""
    if report["error"] or cov.failed or cov.not_checked or not within_budget(len(cov.unreachable), len(cov.in_scope), budget):
        return EXIT_FAILURE
    if not cov.checked and cov.in_scope and len(cov.skipped) < len(cov.in_scope):
        return EXIT_FAILURE
    if not cov.in_scope:  # an empty shard of a small fleet never gets here (run() finishes it)
        return EXIT_FAILURE
    return EXIT_DRIFT if report["drift"] or report.get("deferred") else EXIT_OK


def _write_outputs(args, report: dict) -> None:
    """The JSON report, the page and the Prometheus textfile (runs.write_outputs)."""
    from dockwright import concerns
    from dockwright import metrics
    write_outputs(args, report, lambda r, success: metrics.drift_registry(r, success, concerns.drift_keys()))


def _finish(args, report: dict, code: int) -> int:
    cov = Coverage.of(report)
    report.setdefault("coverage", cov.as_dict())
    report.update(exit_code=code, finished=time.time(), duration=time.time() - report["started"],
                  shard=list(args.shard) if getattr(args, "shard", None) else None)
    for line in cov.lines():
        print(f"{WHO}: {line}" if not line.startswith(" ") else line)
    if report["error"] and not report["hosts"]:
        print(f"{WHO}: error: {report['error']}")
    _write_outputs(args, report)
    print(f"{WHO}: exit {code} "
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


@in_project
def main(argv: list[str]) -> int:
    """dockwright drift, in a project (runs.in_project)."""
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    parser = fleet_parser(__doc__, "for the plan and the fix")
    parser.add_argument("--fix", action="store_true", help="apply and verify when drift is found")
    parser.add_argument("--unattended", action="store_true",
                        help="with --fix: follow the data's drift policy (drift.unattended, drift.window); what it "
                             "does not allow now is reported as deferred (exit 2). The timer and CI templates set it")
    return run_locked(parser.parse_args(argv), "dockwright drift", run)
