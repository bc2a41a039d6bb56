"""The benchmark's figures: parsed probe lines, medians and spread per mode, each as a ratio to
host networking measured in the same run, beside the rule of thumb; a table and a chart."""

import statistics
from pathlib import Path

from .modes import ORDER, RULES_OF_THUMB

# What each workload's probe line holds, in order (dwprobe.c).
FIELDS = {"stream": ("mbit_s", "bytes"), "rr": ("tps", "p50_us", "p99_us"), "crr": ("cps", "p50_us", "p99_us")}
# The figure a mode is judged by per workload, and whether higher is better.
HEADLINE = {"stream": ("mbit_s", True), "rr": ("p50_us", False), "crr": ("cps", True)}


def parse(kind: str, text: str) -> dict:
    words = text.split()
    try:
        return dict(zip(FIELDS[kind], (float(w) for w in words))) if len(words) == len(FIELDS[kind]) else {"error": text}
    except ValueError:
        return {"error": text}


def failures(rounds: list[dict]) -> list[str]:
    """Each measurement that gave no figure: "round 2 overlay crr: ECONNREFUSED"."""
    return [f"round {r['round']} {r['mode']} {kind}: {r[kind]['error']}" for r in rounds for kind in FIELDS
            if "error" in r.get(kind, {})]


def brief(got: dict) -> str:
    s, r, c = got["stream"], got["rr"], got["crr"]
    part = lambda d, f, u: f"{d[f]:.0f} {u}" if f in d else d.get("error", "?")  # noqa: E731
    return f"stream {part(s, 'mbit_s', 'Mbit/s')}, rr p50 {part(r, 'p50_us', 'us')}, crr {part(c, 'cps', 'conn/s')}"


def summary(rounds: list[dict]) -> dict:
    """{mode: {workload: {field: {"median", "min", "max", "n"}}, "ratio": {workload: median / host's}}}."""
    out: dict = {}
    for mode in [m for m in ORDER if any(r["mode"] == m for r in rounds)]:
        mine = [r for r in rounds if r["mode"] == mode]
        out[mode] = {}
        for kind, fields in FIELDS.items():
            out[mode][kind] = {}
            for f in fields:
                values = [r[kind][f] for r in mine if f in r[kind]]
                if values:
                    out[mode][kind][f] = {"median": statistics.median(values), "min": min(values),
                                          "max": max(values), "n": len(values)}
    host = out.get("host", {})
    for mode, figures in out.items():
        figures["ratio"] = {}
        for kind, (f, _) in HEADLINE.items():
            base, mine = host.get(kind, {}).get(f), figures[kind].get(f)
            if base and mine and base["median"]:
                figures["ratio"][kind] = {"median": mine["median"] / base["median"],
                                          "min": mine["min"] / base["median"], "max": mine["max"] / base["median"]}
    return out


def table(result: dict) -> str:
    s = result["summary"]
    lines = [f"client {result['client']['name']} -> server {result['server']['name']}; kernel "
             f"{result['server']['kernel']}, engine {result['server']['engine']}, CPU {result['server']['cpu_model']}, "
             f"data MTU {result['server']['mtu']}; {result['repetitions']} interleaved round(s) of "
             f"{result['seconds']} s; medians [min-max]; ratio to host mode in the same run",
             f"  {'mode':<18} {'stream Mbit/s':>24} {'ratio':>6}  {'rr p50/p99 us':>16} {'ratio':>6}  "
             f"{'crr conn/s':>20} {'ratio':>6}  rule of thumb (overhead)"]
    for mode, f in s.items():
        st, rr, cr, ratio = f["stream"].get("mbit_s"), f["rr"], f["crr"].get("cps"), f["ratio"]

        def span(x):
            return f"{x['median']:.0f} [{x['min']:.0f}-{x['max']:.0f}]" if x else "-"

        def rat(kind):
            return f"{ratio[kind]['median']:.2f}" if kind in ratio else "-"
        rr_text = f"{rr['p50_us']['median']:.0f}/{rr['p99_us']['median']:.0f}" if "p50_us" in rr else "-"
        lines.append(f"  {mode:<18} {span(st):>24} {rat('stream'):>6}  {rr_text:>16} {rat('rr'):>6}  "
                     f"{span(cr):>20} {rat('crr'):>6}  {RULES_OF_THUMB.get(mode, '(base)')}")
    for mode, why in result.get("left_out", {}).items():
        lines.append(f"  {mode:<18} left out: {why}")
    if any(result[side].get("emulated") for side in ("client", "server")):
        lines.append("  NOTE: these hosts are emulated (software CPU): the absolute figures, and the crypto cost above "
                     "all, say nothing about real hardware. The harness runs unchanged on a real fleet.")
    t = result.get("tuning")
    if t:
        lines.append(f"  tuning under load: {t['count']} connections at once against a server in a container")
        for key, label in (("default_namespace", "namespace defaults (somaxconn, SYN backlog)"),
                           ("tuned_namespace", "the host's tuned values as container sysctls"),
                           ("conntrack_default", f"conntrack limit {t['conntrack_default_max']}"),
                           ("conntrack_tuned", "conntrack limit as tuned")):
            b = t[key]
            if "refused" in b:
                lines.append(f"    {label:<48} not run: {b['refused']}")
                continue
            lines.append(f"    {label:<48} connected {b['connected']:>6}, failed {b['failed']:>6}, "
                         f"p99 connect {b['p99_connect_us'] / 1000:.0f} ms, listen overflows {b['listen_overflows']}, "
                         f"listen drops {b.get('listen_drops', '-')}, SYN queue full {b.get('syn_queue_full', '-')}")
    return "\n".join(lines)


def chart(result: dict, path: Path) -> Path | None:
    """A PNG of the three ratios per mode (median, with the spread as error bars), or None
    without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    s = result["summary"]
    mode_names = list(s)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (kind, (field, higher)) in zip(axes, HEADLINE.items()):
        med = [s[m]["ratio"].get(kind, {}).get("median", 0) for m in mode_names]
        lo = [med[i] - s[m]["ratio"].get(kind, {}).get("min", med[i]) for i, m in enumerate(mode_names)]
        hi = [s[m]["ratio"].get(kind, {}).get("max", med[i]) - med[i] for i, m in enumerate(mode_names)]
        ax.bar(mode_names, med, yerr=[lo, hi], capsize=3)
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_title(f"{kind} {field} / host mode ({'higher' if higher else 'lower'} is better)", fontsize=9)
        ax.tick_params(axis="x", rotation=45, labelsize=8)
    emulated = " (emulated hosts: not hardware figures)" if result["server"].get("emulated") else ""
    fig.suptitle(f"dockwright netbench {result['client']['name']} -> {result['server']['name']}{emulated}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
