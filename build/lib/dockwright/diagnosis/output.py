"""What a diagnosis prints and writes: the fleet table, worst first, and the Prometheus textfile.
Findings are dicts here (as read back from the JSON report, for merge)."""

from ..plumbing.runs import label
from .findings import SEVERITIES


def ordered(findings: list[dict]) -> list[dict]:
    """Worst first; then by host, scope and check, so two runs read the same way."""
    return sorted(findings, key=lambda f: (SEVERITIES.index(f["severity"]), f["host"], f["scope"], f["check"]))


def table(report: dict) -> str:
    """The fleet table a person reads in seconds: one line per finding, worst first, the fix
    under it; then the hosts that could not be judged, then a count."""
    found = ordered(report["findings"])
    lines = []
    if found:
        width = {k: max(len(str(f[k])) for f in found) for k in ("severity", "host", "scope", "check")}
        for f in found:
            lines.append(f"  {f['severity'].upper():<{width['severity']}}  {f['host']:<{width['host']}}  "
                         f"{f['scope']:<{width['scope']}}  {f['check']:<{width['check']}}  "
                         f"{f['value']} (threshold {f['threshold']})")
            lines.append(f"  {'':<{width['severity']}}  fix: {f['fix']}")
    for host in report["unreachable"]:
        lines.append(f"  FAILED    {host}: unreachable (not diagnosed)")
    for host, why in sorted(report["failed"].items()):
        lines.append(f"  FAILED    {host}: {why}")
    for host in report.get("skipped") or []:
        lines.append(f"  SKIPPED   {host}: concerns.diagnose is off in its data")
    judged = [h for h in report["hosts"] if h not in report["unreachable"] and h not in report["failed"]
              and h not in (report.get("skipped") or [])]
    clean = [h for h in judged if not any(f["host"] == h for f in found)]
    lines.append(f"  {len(judged)} host(s) diagnosed, {len(clean)} without findings, "
                 f"{len(found)} finding(s), {len(report['unreachable']) + len(report['failed'])} failed")
    return "\n".join(lines)


def _series(name: str, help_: str, rows: list[tuple[dict, float]], kind: str = "gauge") -> list[str]:
    out = [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    for labels, value in rows:
        text = ",".join(f'{k}="{label(v)}"' for k, v in labels.items())
        out.append(f"{name}{{{text}}} {value:g}")
    return out


def metrics_text(report: dict) -> str:
    """Prometheus textfile: gauges per host (and container) from the readings, and the count of
    findings per host, check and severity (0 for a diagnosed host without any, so a fixed
    host's series reads 0 rather than vanishing)."""
    readings = report.get("readings") or {}
    ratio, drops, overflows, mismatches, findings = [], [], [], [], []
    for host, r in sorted(readings.items()):
        sysctl = r.get("sysctl") or {}
        count, limit = sysctl.get("net.netfilter.nf_conntrack_count"), sysctl.get("net.netfilter.nf_conntrack_max")
        if limit:
            ratio.append(({"host": host}, (count or 0) / limit))
        for name in ("insert_failed", "drop", "early_drop"):
            if name in (r.get("conntrack_stat") or {}):
                drops.append(({"host": host, "counter": name}, r["conntrack_stat"][name]))
        overflows.append(({"host": host, "container": ""}, (r.get("tcp") or {}).get("ListenOverflows", 0)))
        docker = r.get("docker")
        for c in docker.get("containers", []) if isinstance(docker, dict) else []:
            if "ListenOverflows" in c.get("tcp", {}):
                overflows.append(({"host": host, "container": c["name"]}, c["tcp"]["ListenOverflows"]))
    per = {}
    for f in report["findings"]:
        per[(f["host"], f["check"], f["severity"])] = per.get((f["host"], f["check"], f["severity"]), 0) + 1
        if f["check"].startswith("mtu_"):
            mismatches.append(({"host": f["host"], "network": f["scope"].split(" ", 1)[-1]}, 1))
    judged = sorted(set(readings) - set(report["unreachable"]) - set(report["failed"]))
    for host in judged:
        if not any(h == host for h, _, _ in per):
            findings.append(({"host": host, "check": "", "severity": ""}, 0))
    findings += [({"host": h, "check": c, "severity": s}, n) for (h, c, s), n in sorted(per.items())]
    lines = []
    lines += _series("dockwright_diagnose_conntrack_usage_ratio", "Conntrack entries over nf_conntrack_max.", ratio)
    lines += _series("dockwright_diagnose_conntrack_drops_total",
                     "Conntrack insert_failed, drop and early_drop since boot, summed over CPUs.", drops, "counter")
    lines += _series("dockwright_diagnose_listen_overflows_total",
                     "TCP ListenOverflows since boot, per host (container=\"\") and per container namespace.",
                     overflows, "counter")
    lines += _series("dockwright_diagnose_mtu_mismatches", "Networks whose MTU exceeds their uplink's.", mismatches)
    lines += _series("dockwright_diagnose_findings", "Findings of the last run, per host, check and severity.",
                     findings)
    lines += _series("dockwright_diagnose_host_failed", "1 when the host could not be diagnosed.",
                     [({"host": h}, 1 if h in report["unreachable"] or h in report["failed"] else 0)
                      for h in sorted(report["hosts"])])
    lines += _series("dockwright_diagnose_last_run_timestamp_seconds", "When the last run finished.",
                     [({}, report["finished"])])
    lines += _series("dockwright_diagnose_exit_code", "Exit code of the last run (0 healthy, 2 findings, 1 failure).",
                     [({}, report["exit_code"])])
    return "\n".join(line.replace("{}", "") for line in lines) + "\n"
