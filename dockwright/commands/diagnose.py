"""Fleet diagnosis of the common Docker networking failures: read-only, one read per host.

    dockwright diagnose INVENTORY [--active] [--limit HOSTS] [--shard I/N] [--previous FILE]
                                  [--json FILE] [--metrics FILE] [--progress compact]
    dockwright diagnose merge SHARD.json... [--json FILE] [--metrics FILE]

(``python diagnose.py ...`` in a checkout is the same, run in that checkout wherever it is
started.) It works in the project of the current directory: its inventories and group_data/.

Reads every host once (conntrack, listen queues, retransmissions, MTUs, Docker's chains and
forwarding, IPsec SAs, each running container's namespace, clocks), judges the readings against
the data's ``diagnose`` thresholds, and prints the findings worst first, each with the measured
value, the threshold and the fix. Nothing on any host is changed, unless --active is given:
then probe containers (labelled, removed afterwards) try DNS and published ports. ``--previous`` takes the
last run's ``--json`` (a file that does not exist yet: since boot); counters are then judged
since that run. The same path may be given to ``--previous`` and ``--json``.

Every verdict states its coverage (hosts in scope, diagnosed, unreachable, failed, skipped,
each with why); hosts whose data holds ``maintenance`` are left out, as skipped.

Exit codes: 0 every host in scope diagnosed and healthy; 2 a finding at or above the data's
``diagnose.fail_on``; 1 a failure (an inventory that is not one or yields no host, a --limit
that matches no host, an unreachable host beyond --max-unreachable, a failed read, invalid
data, another run holding the lock, or (merge) a missing or repeated shard); 64 a usage error.
"""

import json
import os
import sys
import time
from pathlib import Path

from dockwright.commands import write_outputs
from dockwright.coverage import (Coverage, inventory_problem, run_error, scope_problems,
                                          within_budget)
from dockwright.cli import (EXIT_FAILURE, EXIT_FOUND, EXIT_OK, Parser, fleet_parser, limit_args, limit_matches,
                                      pyinfra_flags, read_reports, run_locked, shard_problems, shard_scope, in_project)

WHO = "dockwright diagnose"
SCHEMA_VERSION = 2  # docs/schema/diagnose-report.json
DEPLOY = str(Path(__file__).resolve().parents[1] / "diagnosis" / "read.py")  # the read, a deploy file


def plain(reading):
    """A reading as JSON holds it (a dockerd that did not answer: {"down": why})."""
    from dockwright import dockerd
    docker = reading["docker"]
    return {**reading, "docker": {"down": str(docker)} if isinstance(docker, dockerd.Down) else docker}


def collect(inventory: str, limit: str | None, passed: list[str], active: bool = False,
            compact: bool = False) -> dict:
    """Reads the hosts through pyinfra (--dry: no operation, nothing changed) and returns
    {"hosts", "unreachable", "failed", "skipped", "error", "readings", "desired", "offsets",
    "warnings", "scope_problems"}."""
    from dockwright import model, run
    from dockwright import outcomes
    from dockwright.cli import hosts_outcome, run_pyinfra

    state, error = run_pyinfra([inventory, DEPLOY, "--dry", "--json", *passed, *limit_args(limit)],
                               compact="dockwright diagnose" if compact else None, active_probes=active)
    if state is None or getattr(state, "inventory", None) is None:
        return {"hosts": [], "unreachable": {}, "failed": {}, "skipped": {}, "error": error or "pyinfra did not start",
                "groups": {},
                "readings": {}, "desired": {}, "offsets": {}, "warnings": [], "scope_problems": []}
    in_run, unreachable, failed, skipped = hosts_outcome(state, outcomes.failures(state))
    got = outcomes.readings(state)
    left_out = {*unreachable, *failed, *skipped}
    readings = {h: value for h, (value, _) in got.items() if h not in left_out}
    # Each host's clock minus the controller's as its reading arrived (the read's last line is
    # the host's clock just before it answered).
    offsets = {h: value["end"] - received for h, (value, received) in got.items()
               if h in readings and value.get("end")}
    desired = {h.name: model.desired(h) for h in state.inventory if h.name in in_run and h.name not in skipped}
    skipped.update({h: "concerns.diagnose is off in its data" for h in in_run if h not in readings and h not in left_out
                    and h in desired and not model.enabled(desired[h], "diagnose")})
    all_hosts = sorted(h.name for h in state.inventory)
    groups = {h.name: sorted(g for g in getattr(h, "groups", ()) if g != "all") for h in state.inventory if h.name in in_run}
    return {"hosts": in_run, "unreachable": unreachable, "failed": failed, "skipped": skipped, "error": error,
            "groups": groups,
            "readings": readings, "desired": desired, "offsets": offsets,
            "warnings": list(run.of_state(state).warnings),
            "scope_problems": scope_problems(inventory, all_hosts, in_run, limit,
                                             lambda p: limit_matches(state.inventory, p))}


def diagnose(collected: dict, previous: dict | None) -> tuple[list[dict], float | None]:
    """Every finding of the run (dicts, worst first), and the swarm's clock-skew threshold."""
    from dockwright.diagnosis import active, findings, output

    found: list = []
    before = (previous or {}).get("readings") or {}
    for host, reading in sorted(collected["readings"].items()):
        desired = collected["desired"][host]
        found += findings.judge(host, reading, desired["diagnose"], desired, before.get(host))
        found += active.judge(host, active.results(reading.get("active") or [], reading))
    swarm = {h: off for h, off in collected["offsets"].items()
             if (collected["desired"][h].get("swarm") or {}).get("role")}
    skew = min((collected["desired"][h]["diagnose"]["clock_skew_seconds"] for h in swarm), default=None)
    if skew is not None:
        found += findings.clock_skew(swarm, skew)
    return output.ordered([f.as_dict() for f in found]), skew


def exit_code(report: dict, budget: str | None = None) -> int:
    from dockwright.diagnosis.findings import at_least
    cov = report["coverage"]
    if report["error"] or cov["failed"] or cov["not_checked"] or \
            not within_budget(len(cov["unreachable"]), cov["in_scope"], budget):
        return EXIT_FAILURE
    if cov["checked"] == 0 and cov["in_scope"] > len(cov["skipped"]):
        return EXIT_FAILURE
    if cov["in_scope"] == 0 and not report.get("shard"):
        return EXIT_FAILURE
    floors = report.get("fail_on") or {}
    serious = [f for f in report["findings"] if at_least(f["severity"], floors.get(f["host"], "warning"))]
    return EXIT_FOUND if serious else EXIT_OK


def _empty(args, started: float) -> dict:
    return {"schema_version": SCHEMA_VERSION, "kind": "diagnose", "inventory": args.inventory, "started": started,
            "hosts": [], "unreachable": {}, "failed": {}, "skipped": {}, "not_checked": {}, "error": None,
            "findings": [], "readings": {}, "offsets": {}, "fail_on": {}, "swarm_nodes": [],
            "clock_skew_seconds": None, "warnings": []}


def run(args) -> int:
    started = time.time()
    if problem := inventory_problem(args.inventory):
        return finish(args, {**_empty(args, started), "error": problem})
    if args.shard:
        index, count = args.shard
        mine, total = shard_scope(args.inventory, index, count, args.limit)
        print(f"{WHO}: shard {index}/{count}: {len(mine)} host(s) of {total}")
        if not mine:
            report = _empty(args, started)
            if total >= count:
                report["error"] = f"shard {index}/{count} has no host although {total} host(s) are in scope"
            else:
                report["warnings"] = [f"shard {index}/{count}: no host (the fleet of {total} is smaller than the "
                                      f"shard count)"]
            return finish(args, report)
        args.limit = ",".join(mine)
    previous = None
    if args.previous and not os.path.exists(args.previous):
        print(f"{WHO}: no previous report at {args.previous} yet: counters are judged since boot")
    elif args.previous:
        try:
            previous = json.loads(Path(args.previous).read_text())
        except (OSError, ValueError) as e:
            print(f"{WHO}: cannot read --previous {args.previous}: {e}", file=sys.stderr)
            return EXIT_FAILURE
    print(f"{WHO}: {args.inventory}: reading the hosts (read-only)", flush=True)
    collected = collect(args.inventory, args.limit, pyinfra_flags(args), args.active, args.progress == "compact")
    cov = Coverage.of(collected)
    error = "; ".join(collected["scope_problems"]) or run_error(collected["error"], cov)
    if error:
        cov.not_checked = {h: f"the run stopped before its verdict: {error}" for h in cov.checked}
    found, skew = diagnose(collected, previous) if not error else ([], None)
    report = {
        **_empty(args, started), "findings": found,
        "readings": {h: plain(r) for h, r in collected["readings"].items()},
        "offsets": collected["offsets"], "clock_skew_seconds": skew,
        "swarm_nodes": sorted(h for h, d in collected["desired"].items() if (d.get("swarm") or {}).get("role")),
        "fail_on": {h: d["diagnose"]["fail_on"] for h, d in collected["desired"].items() if "diagnose" in d},
        "hosts": collected["hosts"], "error": error, "warnings": collected["warnings"], "groups": collected["groups"],
        **{k: v for k, v in cov.as_dict().items() if k in ("unreachable", "failed", "skipped", "not_checked")},
    }
    return finish(args, report)


def finish(args, report: dict) -> int:
    from dockwright.diagnosis import output
    report.update(finished=time.time(), duration=time.time() - report["started"],
                  shard=list(args.shard) if getattr(args, "shard", None) else None)
    cov = Coverage.of(report)
    report["coverage"] = cov.as_dict()
    report["exit_code"] = exit_code(report, getattr(args, "max_unreachable", None))
    print(output.table(report))
    print(f"{WHO}: {cov.lines()[0]}")
    if report["error"]:
        print(f"  error: {report['error']}")
    for warning in report.get("warnings") or []:
        print(f"  warning: {warning}")
    write(args, report)
    print(f"{WHO}: exit {report['exit_code']} "
          f"({ {0: 'healthy', 1: 'failure', 2: 'findings'}[report['exit_code']] })")
    return report["exit_code"]


def write(args, report: dict) -> None:
    """The JSON report, the page and the Prometheus textfile (runs.write_outputs)."""
    from dockwright.diagnosis import output
    write_outputs(args, report, output.metrics_registry)


def merge(reports: list[dict]) -> dict:
    """One fleet report from the shards' reports; clock skew judged again across all of them."""
    from dockwright.diagnosis import findings, output
    problems = shard_problems(reports)
    errors = [f"shard {r['shard'][0] if r.get('shard') else i + 1}: {r['error']}"
              for i, r in enumerate(reports) if r.get("error")] + problems
    found = [f for r in reports for f in r["findings"] if f["check"] != "clock_skew"]
    offsets = {h: o for r in reports for h, o in (r.get("offsets") or {}).items()}
    nodes = {h for r in reports for h in r.get("swarm_nodes") or []}
    skew = min((r["clock_skew_seconds"] for r in reports if r.get("clock_skew_seconds")), default=None)
    if skew is not None:
        found += [f.as_dict() for f in findings.clock_skew({h: o for h, o in offsets.items() if h in nodes}, skew)]
    merged = {
        "schema_version": SCHEMA_VERSION, "kind": "diagnose",
        "inventory": reports[0]["inventory"] if reports else None, "shards": len(reports),
        "started": min((r["started"] for r in reports), default=0),
        "finished": max((r["finished"] for r in reports), default=0),
        "findings": output.ordered(found),
        "readings": {h: v for r in reports for h, v in r["readings"].items()},
        "offsets": offsets, "swarm_nodes": sorted(nodes), "clock_skew_seconds": skew,
        "fail_on": {h: v for r in reports for h, v in (r.get("fail_on") or {}).items()},
        "hosts": sorted({h for r in reports for h in r["hosts"]}),
        "error": "; ".join(errors) or None,
        "warnings": sorted({w for r in reports for w in r.get("warnings") or []}),
    }
    for kind in ("unreachable", "failed", "skipped", "not_checked"):
        merged[kind] = dict(sorted((h, why) for r in reports for h, why in (r.get(kind) or {}).items()))
    merged["duration"] = merged["finished"] - merged["started"]
    merged["coverage"] = Coverage.of(merged).as_dict()
    merged["exit_code"] = exit_code(merged)
    if any(r["exit_code"] == EXIT_FAILURE for r in reports):
        merged["exit_code"] = EXIT_FAILURE
    return merged


def merge_main(argv: list[str]) -> int:
    parser = Parser(prog="diagnose.py merge", description="Combine the shards' JSON reports into one "
                    "fleet report (and Prometheus textfile); exits with the fleet's code.")
    parser.add_argument("reports", nargs="+")
    parser.add_argument("--json")
    parser.add_argument("--metrics")
    args = parser.parse_args(argv)
    reports = read_reports(args.reports, WHO)
    if reports is None:
        return EXIT_FAILURE
    from dockwright.diagnosis import output
    fleet = merge(reports)
    print(output.table(fleet))
    if fleet["error"]:
        print(f"  error: {fleet['error']}")
    write(args, fleet)
    print(f"{WHO}: {fleet['shards']} shard(s), {len(fleet['hosts'])} host(s): exit {fleet['exit_code']}")
    return fleet["exit_code"]


@in_project
def main(argv: list[str]) -> int:
    """dockwright diagnose, in a project (runs.in_project)."""
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    parser = fleet_parser(__doc__, "for the read")
    parser.add_argument("--active", action="store_true",
                        help="also run probe containers on each user bridge (DNS through 127.0.0.11 in every "
                             "container's namespace, a published port); they are removed afterwards")
    parser.add_argument("--previous", help="the last run's --json: counters are judged since then")
    return run_locked(parser.parse_args(argv), WHO, run, kind="diagnose")
