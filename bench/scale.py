"""make bench-scale: what dockwright costs the controller as the fleet grows, on simulated hosts.

    python -m bench.scale record          # once, from the lab (VMs up): refreshes bench/recording/
    python -m bench.scale [--sizes 10,50,100,500] [--latency-ms 20]

Simulated hosts (bench/replay.py) answer every command from a recording of a converged lab host
of the same role after a fixed round-trip latency, so the figures are the controller's alone:
pyinfra, dockwright's validation, preflight across the fleet and planning. For each fleet size:
a converged no-op deploy (verification off), a --dry run, drift.py, and the naive baseline
(pyinfra built-ins, bench/naive_deploy.py) next to dockwright limited to the same concerns.
Reports wall time, controller CPU, peak RSS and commands per host, the growth exponent of each
against N (1.0 is linear), and writes bench/results/scale-<time>.json and .png.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
RECORDING = Path(os.environ.get("DOCKWRIGHT_REPLAY_DIR") or REPO / "bench" / "recording")
SIM = "bench/sim_inventory.py"
NO_VERIFY = ["--data", 'verify={"after_deploy": false}']
# The naive baseline manages kernel, daemon.json, profiles and a bridge: compare like with like.
SCOPE = ["--data", 'concerns={"swarm": false, "verify": false}']


def pyinfra(inventory: str, deploy: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pyinfra", inventory, deploy, *extra]


RUNS = {
    # name: (argv, prefix of the recording it replays)
    "dockwright no-op deploy": (pyinfra(SIM, "deploy.py", "-y", *NO_VERIFY), ""),
    "dockwright --dry": (pyinfra(SIM, "deploy.py", "--dry", *NO_VERIFY), ""),
    "dockwright drift.py": ([sys.executable, "drift.py", SIM], ""),
    "dockwright no-op, naive's scope": (pyinfra(SIM, "deploy.py", "-y", *SCOPE), ""),
    "naive no-op deploy": (pyinfra(SIM, "bench/naive_deploy.py", "-y", *SCOPE), "naive-"),
    # Beyond one controller: the shards of drift.py run side by side (here on one machine's
    # two cores), then drift.py merge; wall time of the whole, CPU summed over the shards.
    "dockwright drift.py, 4 shards": (None, ""),
}
SHARDS = 4


def measure(argv: list[str] | None, n: int, replay_as: str, latency_ms: float) -> dict:
    RESULTS.mkdir(exist_ok=True)
    count = RESULTS / "scale-count.tmp"
    count.unlink(missing_ok=True)
    env = dict(os.environ, DOCKWRIGHT_SIM_HOSTS=str(n), DOCKWRIGHT_REPLAY_AS=replay_as,
               DOCKWRIGHT_REPLAY_LATENCY_MS=str(latency_ms), DOCKWRIGHT_COUNT_FILE=str(count))
    shards = RESULTS / "scale-shards.tmp"
    argvs = [argv] if argv else [[sys.executable, "drift.py", SIM, "--shard", f"{i}/{SHARDS}", "--json",
                                  str(shards / f"{i}.json"), "--lock", str(shards / f"{i}.lock")]
                                 for i in range(1, SHARDS + 1)]
    if not argv:
        shards.mkdir(exist_ok=True)
    start = time.monotonic()
    procs = [subprocess.Popen(a, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              stdin=subprocess.DEVNULL) for a in argvs]
    out, cpu, rss, codes = "", 0.0, 0.0, []
    for proc in procs:
        out += proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        codes.append(os.waitstatus_to_exitcode(status))
        cpu += usage.ru_utime + usage.ru_stime
        rss = max(rss, usage.ru_maxrss / 1024)
    if not argv:  # the fleet's report from the shards' reports
        merged = subprocess.run([sys.executable, "drift.py", "merge", *(str(shards / f"{i}.json") for i in
                                 range(1, SHARDS + 1))], cwd=REPO, capture_output=True, text=True)
        out += merged.stdout + merged.stderr
        codes = [merged.returncode]
    rc = max(codes)
    wall = time.monotonic() - start
    hosts = count.read_text().split() if count.exists() else []
    per_host = len(hosts) / n
    result = {"n": n, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
              "peak_rss_mb": round(rss, 1), "commands_per_host": round(per_host, 2), "rc": rc}
    if rc not in (0, 2) or "dwreplay: no recording" in out:
        result["error"] = out[-3000:]
    return result


def exponent(points: list[tuple[int, float]]) -> float | None:
    """b in y = a * N^b, least squares on logs: 1.0 grows linearly, 2.0 quadratically."""
    pts = [(math.log(n), math.log(y)) for n, y in points if y > 0]
    if len(pts) < 2:
        return None
    mx, my = sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)
    den = sum((x - mx) ** 2 for x, _ in pts)
    return round(sum((x - mx) * (y - my) for x, y in pts) / den, 2) if den else None


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (wall, cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, rows in results.items():
        ns = [r["n"] for r in rows]
        wall.plot(ns, [r["wall_s"] for r in rows], marker="o", label=name)
        cpu.plot(ns, [r["cpu_s"] for r in rows], marker="o", label=name)
    for ax, what in ((wall, "wall time (s)"), (cpu, "controller CPU (s)")):
        ax.set_xlabel("simulated hosts")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
    wall.legend(fontsize=7)
    fig.suptitle("dockwright on simulated hosts (replayed lab answers): the controller's cost")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run(sizes: list[int], latency_ms: float, only: list[str] | None) -> int:
    meta = {role.stem: json.loads(role.read_text())["recorded"] for role in sorted(RECORDING.glob("*.json"))}
    if not meta:
        print("bench-scale: no recording in bench/recording (run: python -m bench.scale record)")
        return 1
    age_h = (time.time() - min(meta.values())) / 3600
    print(f"bench-scale: replaying bench/recording ({', '.join(sorted(meta))}), recorded {age_h:.1f} h ago; "
          f"latency {latency_ms} ms per command. Measures the controller, not the hosts.", flush=True)
    results: dict[str, list[dict]] = {}
    failed = False
    for name, (argv, replay_as) in RUNS.items():
        if only and not any(o in name for o in only):
            continue
        for n in sizes:
            r = measure(argv, n, replay_as, latency_ms)
            results.setdefault(name, []).append(r)
            print(f"  {name:34} N={n:<4} {r['wall_s']:7.1f} s wall {r['cpu_s']:7.1f} s CPU "
                  f"{r['peak_rss_mb']:7.1f} MB {r['commands_per_host']:5.1f} cmds/host  rc {r['rc']}", flush=True)
            if "error" in r:
                failed = True
                print("    " + r["error"].replace("\n", "\n    ")[-1500:])
    print("\n  growth against N (exponent b of N^b; 1.0 is linear), and per-host cost at the largest N")
    summary = {}
    for name, rows in results.items():
        big = rows[-1]
        summary[name] = {"wall_exponent": exponent([(r["n"], r["wall_s"]) for r in rows]),
                         "cpu_exponent": exponent([(r["n"], r["cpu_s"]) for r in rows]),
                         "cpu_ms_per_host": round(1000 * big["cpu_s"] / big["n"], 1)}
        s = summary[name]
        print(f"  {name:34} wall b={s['wall_exponent']}  CPU b={s['cpu_exponent']}  "
              f"{s['cpu_ms_per_host']} ms CPU/host at N={big['n']}")
    mine, base = results.get("dockwright no-op, naive's scope"), results.get("naive no-op deploy")
    if mine and base:
        print("  dockwright / naive at the same scope, per N (wall, CPU): " + ", ".join(
            f"N={a['n']}: {a['wall_s'] / b['wall_s']:.2f}x, {a['cpu_s'] / b['cpu_s']:.2f}x" for a, b in zip(mine, base)))
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"scale-{stamp}.json"
    path.write_text(json.dumps({"latency_ms": latency_ms, "recording_age_h": round(age_h, 2),
                                "results": results, "summary": summary}, indent=1) + "\n")
    try:
        plot(results, path.with_suffix(".png"))
        print(f"\nbench-scale: {path.relative_to(REPO)} and {path.with_suffix('.png').relative_to(REPO)}")
    except ImportError:
        print(f"\nbench-scale: {path.relative_to(REPO)} (no plot: pip install -e '.[bench]')")
    return 1 if failed else 0


def record() -> int:
    """Records every command of a no-op deploy, a --dry run and a drift plan (and the naive
    baseline's) from the running lab, converged first. The naive runs go last, in their own
    recording: they rewrite files dockwright owns."""
    rec = "bench/record_inventory.py"

    def step(argv, replay_as=""):
        print("bench-scale record:", " ".join(argv[2:]), flush=True)
        res = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                             env=dict(os.environ, DOCKWRIGHT_REPLAY_AS=replay_as))
        if res.returncode not in (0,):
            print(res.stdout[-3000:], res.stderr[-3000:])
            raise SystemExit(f"bench-scale record: {' '.join(argv[2:])} exited {res.returncode}")

    subprocess.run([sys.executable, "-m", "lab", "up"], cwd=REPO, check=True)
    step(pyinfra("inventories/lab.py", "deploy.py", "-y", *NO_VERIFY))  # converge, not recorded
    for old in RECORDING.glob("*.json"):
        old.unlink()
    step(pyinfra(rec, "deploy.py", "-y", *NO_VERIFY))
    step(pyinfra(rec, "deploy.py", "-y", *SCOPE))
    step(pyinfra(rec, "deploy.py", "--dry", *NO_VERIFY))
    step(pyinfra(rec, "deploy.py", "--dry", "--json", *NO_VERIFY))  # what drift.py runs
    # A run limited to some hosts asks the managers outside it for their swarm state alone
    # (drift shards do): a worker's limit records the managers' answer to that single read.
    step(pyinfra(rec, "deploy.py", "--dry", "--json", "--limit", "lab2", *NO_VERIFY))
    step(pyinfra(rec, "bench/naive_deploy.py", "-y", *SCOPE), "naive-")  # converges the baseline
    step(pyinfra(rec, "bench/naive_deploy.py", "-y", *SCOPE), "naive-")  # its no-op
    print("bench-scale record: the lab now carries the naive baseline's files; "
          "redeploy (or `python -m lab down`) before other work")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["record"]:
        return record()
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10,50,100,500")
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--only", action="append", help="only runs whose name contains this")
    a = p.parse_args(argv)
    return run([int(x) for x in a.sizes.split(",")], a.latency_ms, a.only)


if __name__ == "__main__":
    sys.exit(main())
