"""What a diagnosis prints and writes: the fleet table, worst first, and the Prometheus textfile.
Findings are dicts here (as read back from the JSON report, for merge)."""

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
    for host, why in sorted((report.get("unreachable") or {}).items()):
        lines.append(f"  FAILED    {host}: unreachable (not diagnosed): {why}")
    for host, why in sorted(report["failed"].items()):
        lines.append(f"  FAILED    {host}: {why}")
    for host, why in sorted((report.get("not_checked") or {}).items()):
        lines.append(f"  NOT CHECKED {host}: {why}")
    for host, why in sorted((report.get("skipped") or {}).items()):
        lines.append(f"  SKIPPED   {host}: {why}")
    left_out = {*report["unreachable"], *report["failed"], *(report.get("skipped") or {}),
                *(report.get("not_checked") or {})}
    judged = [h for h in report["hosts"] if h not in left_out]
    clean = [h for h in judged if not any(f["host"] == h for f in found)]
    lines.append(f"  {len(judged)} of {len(report['hosts'])} host(s) diagnosed, {len(clean)} without findings, "
                 f"{len(found)} finding(s), {len(report['unreachable']) + len(report['failed'])} failed, "
                 f"{len(report.get('skipped') or {})} skipped")
    return "\n".join(lines)


class _Readings:
    """The readings' gauges and counters, as prometheus_client collects them (values read from
    the hosts, set as they are: counters since boot)."""

    def __init__(self, report: dict):
        self.report = report

    def collect(self):
        from collections import Counter

        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        ratio = GaugeMetricFamily("dockwright_diagnose_conntrack_usage_ratio", "Conntrack entries over "
                                  "nf_conntrack_max.", labels=["host"])
        drops = CounterMetricFamily("dockwright_diagnose_conntrack_drops", "Conntrack insert_failed, drop and "
                                    "early_drop since boot, summed over CPUs.", labels=["host", "counter"])
        overflows = CounterMetricFamily("dockwright_diagnose_listen_overflows", "TCP ListenOverflows since boot, "
                                        "per host (container=\"\") and per container namespace.",
                                        labels=["host", "container"])
        mtu = GaugeMetricFamily("dockwright_diagnose_mtu_mismatches", "Networks whose MTU exceeds their uplink's, "
                                "per host.", labels=["host"])
        readings = self.report.get("readings") or {}
        mismatches = Counter(f["host"] for f in self.report["findings"] if f["check"].startswith("mtu_"))
        for host in self.report.get("checked_hosts") or []:
            r = readings.get(host) or {}
            sysctl = r.get("sysctl") or {}
            count, limit = sysctl.get("net.netfilter.nf_conntrack_count"), sysctl.get("net.netfilter.nf_conntrack_max")
            ratio.add_metric([host], (count or 0) / limit if limit else 0.0)
            for name in ("insert_failed", "drop", "early_drop"):
                drops.add_metric([host, name], (r.get("conntrack_stat") or {}).get(name, 0))
            overflows.add_metric([host, ""], (r.get("tcp") or {}).get("ListenOverflows", 0))
            docker = r.get("docker")
            for c in docker.get("containers", []) if isinstance(docker, dict) else []:
                if "ListenOverflows" in c.get("tcp", {}):
                    overflows.add_metric([host, c["name"]], c["tcp"]["ListenOverflows"])
            mtu.add_metric([host], mismatches[host])
        return [ratio, drops, overflows, mtu]


def metrics_registry(report: dict, success: float | None):
    """The Prometheus textfile's registry: per checked host its readings and its findings by
    severity, the fleet's findings by check and severity (every check, 0 when none), and the
    run's own series (coverage, duration, last success: dockwright.metrics)."""
    from collections import Counter

    from prometheus_client import CollectorRegistry, Gauge

    from .. import metrics
    from .findings import CHECKS
    registry = CollectorRegistry()
    report = dict(report, checked_hosts=metrics.host_series(registry, "dockwright_diagnose", report))
    registry.register(_Readings(report))
    per_host = Gauge("dockwright_diagnose_findings", "Findings of the last run per checked host and severity.",
                     ["host", "severity"], registry=registry)
    by_host = Counter((f["host"], f["severity"]) for f in report["findings"])
    for host in report["checked_hosts"]:
        for severity in SEVERITIES:
            per_host.labels(host, severity).set(by_host[host, severity])
    fleet = Gauge("dockwright_diagnose_fleet_findings", "Findings of the last run over the fleet, per check and "
                  "severity.", ["check", "severity"], registry=registry)
    by_check = Counter((f["check"], f["severity"]) for f in report["findings"])
    for check in CHECKS:
        for severity in SEVERITIES:
            fleet.labels(check, severity).set(by_check[check, severity])
    metrics.run_series(registry, "dockwright_diagnose", report, success)
    return registry
