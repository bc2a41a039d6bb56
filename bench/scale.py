"""make bench-scale: what dockwright costs the controller as the fleet grows, on simulated hosts.

    python -m bench.scale record          # once, from the lab (VMs up): refreshes bench/recording/
    python -m bench.scale [--sizes 10,50,100,500] [--latency-ms 20] [--repeat K]
    python -m bench.scale shards [N] [PAIRS]   # drift's 4 shards against one run, paired
    python -m bench.scale against DIR [N] [PAIRS] [--own-recordings]   # this checkout against another, paired

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


ALONE, SIDE_BY_SIDE = "shards one at a time", "shards side by side"
RUNS = {
    # name: (argv, prefix of the recording it replays)
    "dockwright no-op deploy": (pyinfra(SIM, "deploy.py", "-y", *NO_VERIFY), ""),
    "dockwright --dry": (pyinfra(SIM, "deploy.py", "--dry", *NO_VERIFY), ""),
    "dockwright drift.py": ([sys.executable, "drift.py", SIM], ""),
    # diagnose.py's one read per host (read-only), judged and reported.
    "dockwright diagnose.py": ([sys.executable, "diagnose.py", SIM], ""),
    "dockwright no-op, naive's scope": (pyinfra(SIM, "deploy.py", "-y", *SCOPE), ""),
    "naive no-op deploy": (pyinfra(SIM, "bench/naive_deploy.py", "-y", *SCOPE), "naive-"),
    # Beyond one controller: the shards of drift.py, then drift.py merge; CPU summed over the
    # shards. Each alone, as on a machine of its own (a CI job each): wall is the slowest
    # shard plus the merge. Side by side on this machine's two cores: wall of the whole.
    "dockwright drift.py, 4 shards each alone": (ALONE, ""),
    "dockwright drift.py, 4 shards side by side": (SIDE_BY_SIDE, ""),
    # What a run that checks one host pays, against N: the process's constant (Python and
    # pyinfra's imports) plus what the rest of the inventory costs it (loaded and validated,
    # never read). The part each shard pays for the hosts that are not its own.
    "dockwright drift.py, one host": ([sys.executable, "drift.py", SIM, "--limit", "sim-w0003"], ""),
    # The verification suite on its own, its hosts answered from bench/recording/verify-*.json
    # (bench/verify_replay.py, a pytest plugin of bench's distribution), the worker pool sized as a deploy sizes it.
    "verification (replayed)": ("verify", ""),
}
SHARDS = 4


def verify_argv(n: int) -> list[str]:
    from dockwright.verify.handoff import workers
    return [sys.executable, "-m", "dockwright.verify", "-q", "-p", "no:cacheprovider", "--inventory", SIM,
            "-n", str(workers(n)), "--dist", "loadgroup"]


def _tree_rss_mb(root: int) -> float:
    """The resident memory of root and every process under it, now (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as f:
                rss[int(entry)] = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


class TreeRss:
    """Samples the summed RSS of the processes under the given roots every 0.2 s; .peak in MB."""

    def __init__(self, roots: list[int]):
        import threading
        self.roots, self.peak, self.stop = roots, 0.0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            self.peak = max(self.peak, sum(_tree_rss_mb(r) for r in self.roots))

    def close(self) -> float:
        self.stop.set()
        self.thread.join()
        return self.peak


def compile_bytecode() -> None:
    """dockwright's bytecode before measuring, as an installed package has it: where
    PYTHONDONTWRITEBYTECODE is set, every process would compile its modules again."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "dockwright", "operations", "group_data", "bench"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def measure(argv: list[str] | None, n: int, replay_as: str, latency_ms: float, cwd: Path = REPO) -> dict:
    RESULTS.mkdir(exist_ok=True)
    count = RESULTS / "scale-count.tmp"
    count.unlink(missing_ok=True)
    env = dict(os.environ, DOCKWRIGHT_SIM_HOSTS=str(n), DOCKWRIGHT_REPLAY_AS=replay_as,
               DOCKWRIGHT_REPLAY_LATENCY_MS=str(latency_ms), DOCKWRIGHT_COUNT_FILE=str(count))
    if argv == "verify":
        argv = verify_argv(n)
        env["DOCKWRIGHT_VERIFY_REPLAY"] = str(RECORDING)
    shards = RESULTS / "scale-shards.tmp"
    sharded = argv in (ALONE, SIDE_BY_SIDE)
    argvs = [[sys.executable, "drift.py", SIM, "--shard", f"{i}/{SHARDS}", "--json",
              str(shards / f"{i}.json"), "--lock", str(shards / f"{i}.lock")]
             for i in range(1, SHARDS + 1)] if sharded else [argv]
    if sharded:
        shards.mkdir(exist_ok=True)
    # Groups of processes run side by side; the groups one after another.
    groups = [[a] for a in argvs] if argv == ALONE else [argvs]
    out, cpu, rss, codes, walls, tree_peak = "", 0.0, 0.0, [], [], 0.0
    for group in groups:
        start = time.monotonic()
        procs = [subprocess.Popen(a, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  stdin=subprocess.DEVNULL) for a in group]
        tree = TreeRss([p.pid for p in procs])
        for proc in procs:
            out += proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
            codes.append(os.waitstatus_to_exitcode(status))
            cpu += usage.ru_utime + usage.ru_stime
            rss = max(rss, usage.ru_maxrss / 1024)
        walls.append(time.monotonic() - start)
        tree_peak = max(tree_peak, tree.close())
    wall = max(walls)  # each alone: the slowest shard, as on machines of their own
    if sharded:  # the fleet's report from the shards' reports
        start = time.monotonic()
        merged = subprocess.run([sys.executable, "drift.py", "merge", *(str(shards / f"{i}.json") for i in
                                 range(1, SHARDS + 1))], cwd=REPO, capture_output=True, text=True)
        wall += time.monotonic() - start
        out += merged.stdout + merged.stderr
        codes = [merged.returncode]
    rc = max(codes)
    hosts = count.read_text().split() if count.exists() else []
    per_host = len(hosts) / n
    result = {"n": n, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
              "peak_rss_mb": round(rss, 1), "tree_peak_rss_mb": round(tree_peak, 1),
              "commands_per_host": round(per_host, 2), "rc": rc}
    # A run that fails is a failed measurement, never a figure: the verification must pass (the
    # replay answers every peer's reach check; a host whose address began another's once made
    # three checks fail at N = 50), the others may find drift (2).
    if rc not in ((0,) if "dockwright.verify" in argvs[0] else (0, 2)) or "dwreplay: no recording" in out:
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


def run(sizes: list[int], latency_ms: float, only: list[str] | None, repeat: int = 1) -> int:
    meta = {role.stem: json.loads(role.read_text())["recorded"] for role in sorted(RECORDING.glob("*.json"))}
    if not meta:
        print("bench-scale: no recording in bench/recording (run: python -m bench.scale record)")
        return 1
    age_h = (time.time() - min(meta.values())) / 3600
    print(f"bench-scale: replaying bench/recording ({', '.join(sorted(meta))}), recorded {age_h:.1f} h ago; "
          f"latency {latency_ms} ms per command, median of {repeat} run(s). Measures the controller, not the "
          "hosts.", flush=True)
    compile_bytecode()
    results: dict[str, list[dict]] = {}
    failed = False
    for name, (argv, replay_as) in RUNS.items():
        if only and not any(o in name for o in only):
            continue
        for n in sizes:
            # The median of `repeat` runs by CPU (this machine's neighbours move a run by 10%).
            runs = sorted((measure(argv, n, replay_as, latency_ms) for _ in range(repeat)), key=lambda r: r["cpu_s"])
            r = next((x for x in runs if "error" in x), runs[len(runs) // 2])
            if repeat > 1:
                r["cpu_s_runs"] = [x["cpu_s"] for x in runs]
            results.setdefault(name, []).append(r)
            print(f"  {name:34} N={n:<4} {r['wall_s']:7.1f} s wall {r['cpu_s']:7.1f} s CPU "
                  f"{r['peak_rss_mb']:7.1f} MB (tree {r['tree_peak_rss_mb']:7.1f} MB) "
                  f"{r['commands_per_host']:5.1f} cmds/host  rc {r['rc']}", flush=True)
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
    one = results.get("dockwright drift.py")
    for name in ("dockwright drift.py, 4 shards each alone", "dockwright drift.py, 4 shards side by side"):
        if one and results.get(name):  # #25's goal: the shards' CPU summed at most 1.2x one run
            print(f"  {name[len('dockwright drift.py, '):]}: CPU summed / one unsharded run, per N: " + ", ".join(
                f"N={a['n']}: {a['cpu_s'] / b['cpu_s']:.2f}x" for a, b in zip(results[name], one)))
    single = results.get("dockwright drift.py, one host")
    if single:  # the constant, and what the rest of the inventory adds to it
        print("  drift.py checking one host, per N (CPU): " + ", ".join(f"N={r['n']}: {r['cpu_s']:.2f} s" for r in single))
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

    def step(argv, replay_as="", ok=(0,)):
        print("bench-scale record:", " ".join(argv[2:]), flush=True)
        res = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                             env=dict(os.environ, DOCKWRIGHT_REPLAY_AS=replay_as))
        if res.returncode not in ok:
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
    # diagnose.py's read (2: a counter since boot may show a finding on a lab that has worked).
    step([sys.executable, "diagnose.py", rec], ok=(0, 2))
    # The verification suite's commands and answers, for its replay (bench/verify_replay.py, a pytest plugin of bench's distribution).
    print("bench-scale record: verification", flush=True)
    res = subprocess.run([sys.executable, "-m", "dockwright.verify", "-q", "-p", "no:cacheprovider",
                          "--inventory", rec, "-n", "3", "--dist", "loadgroup"], cwd=REPO, capture_output=True,
                         text=True, env=dict(os.environ, DOCKWRIGHT_VERIFY_RECORD=str(RECORDING)))
    if res.returncode != 0:
        print(res.stdout[-3000:])
        raise SystemExit("bench-scale record: the verification failed on the lab; nothing to replay")
    step(pyinfra(rec, "bench/naive_deploy.py", "-y", *SCOPE), "naive-")  # converges the baseline
    step(pyinfra(rec, "bench/naive_deploy.py", "-y", *SCOPE), "naive-")  # its no-op
    print("bench-scale record: the lab now carries the naive baseline's files; "
          "redeploy (or `python -m lab down`) before other work")
    return 0


LAB_FAULTS = {  # what record_faults plants on the lab, per VM (and role), and how it undoes it
    "lab1": ("sysctl -q -w net.core.somaxconn=1024", "sysctl -q -w net.core.somaxconn=65535"),
    "lab2": ("systemctl stop docker.socket docker.service", "systemctl start docker.socket docker.service"),
    "lab3": ("echo 'net.core.somaxconn = 1024' > /etc/sysctl.d/99-zz-fault.conf", "rm -f /etc/sysctl.d/99-zz-fault.conf"),
}


def record_faults() -> int:
    """Records the lab in a broken state, for the simulated fleet's faulty hosts
    (bench/recording/fault-<role>.json): lab1 (manager) drifted, lab2 (worker) with dockerd
    stopped, lab3 (standalone) refusing the data. Plans only (drift.py's --dry --json, and
    --dry): nothing is changed, and the lab is restored afterwards."""
    from lab import vm
    rec = "bench/record_inventory.py"
    subprocess.run([sys.executable, "-m", "lab", "up"], cwd=REPO, check=True)
    # Converged first (a recording leaves the naive baseline's files behind), not recorded.
    subprocess.run(pyinfra("inventories/lab.py", "deploy.py", "-y", *NO_VERIFY), cwd=REPO, check=True,
                   capture_output=True, stdin=subprocess.DEVNULL)
    for old in RECORDING.glob("fault-*.json"):
        old.unlink()
    for name, (plant, _) in LAB_FAULTS.items():
        vm.run(name, plant)
    try:
        for extra in (["--json"], []):
            argv = pyinfra(rec, "deploy.py", "--dry", *extra, *NO_VERIFY)
            print("bench-scale record-faults:", " ".join(argv[2:]), flush=True)
            res = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                 env=dict(os.environ, DOCKWRIGHT_REPLAY_AS="fault-"))
            print(f"  exit {res.returncode} (lab3 refuses: 1 expected)")
        RESULTS.mkdir(parents=True, exist_ok=True)  # a fresh clone has none: the lock could not be opened
        argv = [sys.executable, "diagnose.py", rec, "--lock", str(RESULTS / "record-faults.lock")]
        print("bench-scale record-faults: diagnose.py", flush=True)
        res = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                             env=dict(os.environ, DOCKWRIGHT_REPLAY_AS="fault-"))
        print(f"  exit {res.returncode} (lab2's dockerd stopped is a finding: 2 expected)")
        if res.returncode != 2:
            print(res.stdout[-2000:], res.stderr[-2000:])
            raise SystemExit("bench-scale record-faults: diagnose.py did not record the faults as findings")
    finally:
        for name, (_, undo) in LAB_FAULTS.items():
            vm.run(name, undo, check=False)
    return 0


def shard_pairs(n: int, pairs: int, latency_ms: float) -> int:
    """#25's ratio, paired: one unsharded drift.py, then its 4 shards each alone, `pairs` times
    in turn. Each pair's runs are a few seconds apart, so this machine's swings in speed (10-20%
    from one minute to the next) move both sides of a ratio alike; the median ratio is reported."""
    compile_bytecode()
    one, _ = RUNS["dockwright drift.py"]
    ratios = []
    for i in range(1, pairs + 1):
        a, b = measure(one, n, "", latency_ms), measure(ALONE, n, "", latency_ms)
        if "error" in a or "error" in b:
            print((a.get("error") or b.get("error"))[-1500:])
            return 1
        ratios.append(b["cpu_s"] / a["cpu_s"])
        print(f"  pair {i}/{pairs}, N={n}: one run {a['cpu_s']:.2f} s CPU, 4 shards each alone "
              f"{b['cpu_s']:.2f} s: {ratios[-1]:.2f}x", flush=True)
    ratios.sort()
    print(f"bench-scale shards: N={n}, CPU summed / one run, median of {pairs} pairs "
          f"{ratios[len(ratios) // 2]:.2f}x (spread {ratios[0]:.2f}-{ratios[-1]:.2f})")
    return 0


def checkout_pairs(other: Path, n: int, pairs: int, latency_ms: float, own: bool = False) -> int:
    """This checkout against another one (a worktree of the commit before a change), paired:
    drift.py's plan and a no-op deploy, on n replayed hosts, A B A B; the controller's CPU
    (user + sys) of each run, each side running its own code with this checkout's recordings
    (the read must be the same on both sides), or with own, each side with its own (where a
    change reshaped the read: both recorded from the same lab)."""
    compile_bytecode()
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-x", "templates", str(other / "dockwright"),
                    str(other / "bench")], check=False, stdout=subprocess.DEVNULL)
    runs = {name: RUNS[name][0] for name in ("dockwright drift.py", "dockwright no-op deploy")}
    os.environ["DOCKWRIGHT_REPLAY_DIR"] = str(RECORDING)  # the other checkout's bench reads it too
    found: dict = {name: {"before": [], "after": []} for name in runs}
    for i in range(1, pairs + 1):
        for name, argv in runs.items():
            for side, cwd in (("before", other), ("after", REPO)):
                os.environ["DOCKWRIGHT_REPLAY_DIR"] = str((cwd / "bench" / "recording") if own else RECORDING)
                r = measure(argv, n, "", latency_ms, cwd)
                if "error" in r:
                    print(f"{side} ({cwd}): {r['error'][-1500:]}")
                    return 1
                found[name][side].append(r["cpu_s"])
            print(f"  pair {i}/{pairs}, N={n}, {name}: before {found[name]['before'][-1]:.2f} s CPU, "
                  f"after {found[name]['after'][-1]:.2f} s", flush=True)
    for name, sides in found.items():
        line = []
        for side in ("before", "after"):
            v = sorted(sides[side])
            line.append(f"{side} {v[len(v) // 2]:.2f} s ({v[0]:.2f}-{v[-1]:.2f})")
        print(f"bench-scale against: {name}, N={n}, median of {pairs} pairs: " + ", ".join(line))
    return 0


def faults(n: int, share: float, latency_ms: float) -> int:
    """The fault matrix on n simulated hosts, share% each unreachable, dockerd stopped, refused
    and drifted: drift.py twice, and a deploy planned without -y. Every broken host must be named
    with its reason, every healthy host planned, and the run must end (exit 1)."""
    import runpy
    env = dict(os.environ, DOCKWRIGHT_SIM_HOSTS=str(n), DOCKWRIGHT_SIM_FAULTS=str(share),
               DOCKWRIGHT_REPLAY_LATENCY_MS=str(latency_ms), DOCKWRIGHT_REPLAY_AS="")
    os.environ.update(DOCKWRIGHT_SIM_HOSTS=str(n), DOCKWRIGHT_SIM_FAULTS=str(share))
    inv = runpy.run_path(str(REPO / SIM))["lab"]
    name = lambda h: h[0].split("/", 1)[1]  # noqa: E731
    want = {f: sorted(name(h) for h in inv if h[1].get("replay_fault") == f)
            for f in ("unreachable", "dockerd-stopped", "refused", "drifted")}
    RESULTS.mkdir(exist_ok=True)
    rows, ok = [], True
    for label, argv in (("drift.py", [sys.executable, "drift.py", SIM]),
                        ("drift.py again", [sys.executable, "drift.py", SIM]),
                        ("deploy --dry (no -y)", pyinfra(SIM, "deploy.py", "--dry", "--json", *NO_VERIFY)),
                        ("diagnose.py", [sys.executable, "diagnose.py", SIM])):
        report = RESULTS / "faults-report.tmp.json"
        report.unlink(missing_ok=True)
        reporting = "drift.py" in argv or "diagnose.py" in argv
        full = argv + (["--json", str(report), "--lock", str(RESULTS / "faults.lock")] if reporting else [])
        start = time.monotonic()
        proc = subprocess.Popen(full, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL)
        tree = TreeRss([proc.pid])
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        row = {"run": label, "n": n, "rc": os.waitstatus_to_exitcode(status), "wall_s": round(time.monotonic() - start, 1),
               "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "tree_peak_rss_mb": round(tree.close(), 1)}
        if report.exists() and "diagnose.py" in argv:
            r = json.loads(report.read_text())
            down = sorted({f["host"] for f in r["findings"] if f["check"] == "dockerd"})
            judged = set(r["readings"])
            row.update(unreachable=len(r["unreachable"]), failed=len(r["failed"]), drifted=len(down))
            row["checks"] = {"unreachable named": sorted(r["unreachable"]) == want["unreachable"],
                             "dockerd stopped found": down == want["dockerd-stopped"],
                             "every other host diagnosed": judged == {name(h) for h in inv} - set(want["unreachable"]),
                             "exit 1": row["rc"] == 1}
        elif report.exists():
            r = json.loads(report.read_text())
            row.update(unreachable=len(r["unreachable"]), failed=len(r["failed"]), drifted=len(r["drift"]))
            named = {"unreachable": sorted(r["unreachable"]), "refused": sorted(h for h, why in r["failed"].items()
                                                                                if why.startswith("refused"))}
            stopped = sorted(h for h, items in r["drift"].items() if any(i["key"] == "service active" for i in items))
            row["checks"] = {"unreachable named": named["unreachable"] == want["unreachable"],
                             "refused named": named["refused"] == want["refused"],
                             "dockerd stopped named": stopped == want["dockerd-stopped"],
                             "drifted named": sorted(set(r["drift"]) - set(stopped)) == want["drifted"],
                             "exit 1": row["rc"] == 1}
        else:
            start_json = out.find('{"plan"')
            plan = json.loads(out[start_json:out.rindex("}") + 1])["plan"] if start_json >= 0 else []
            changed = {h for op in plan for h in op["hosts_with_change"]}
            bad = set(want["unreachable"]) | set(want["refused"])
            row["checks"] = {"no broken host planned": not (changed & bad),
                             "every drifted host planned": set(want["drifted"]) <= changed,
                             "every stopped dockerd planned": set(want["dockerd-stopped"]) <= changed}
        ok = ok and all(row["checks"].values())
        rows.append(row)
        print(f"  {label:22} N={n} exit {row['rc']} {row['wall_s']:6.1f} s wall {row['cpu_s']:6.1f} s CPU "
              f"{row['tree_peak_rss_mb']:6.1f} MB  " + ", ".join(f"{k}: {'ok' if v else 'NO'}" for k, v in row["checks"].items())
              + (f"  (named: {row.get('unreachable')} unreachable, {row.get('failed')} failed, "
                 f"{row.get('drifted')} with drift)" if "failed" in row else ""), flush=True)
    path = RESULTS / f"faults-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps({"n": n, "share_percent": share, "expected": {k: len(v) for k, v in want.items()},
                                "runs": rows}, indent=1) + "\n")
    print(f"bench-scale faults: {path.relative_to(REPO)}")
    return 0 if ok else 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["record"]:
        return record()
    if argv[:1] == ["record-faults"]:
        return record_faults()
    if argv[:1] == ["shards"]:
        return shard_pairs(int(argv[1]) if len(argv) > 1 else 500, int(argv[2]) if len(argv) > 2 else 5, 20.0)
    if argv[:1] == ["against"]:
        own = "--own-recordings" in argv
        argv = [a for a in argv if a != "--own-recordings"]
        return checkout_pairs(Path(argv[1]).resolve(), int(argv[2]) if len(argv) > 2 else 500,
                              int(argv[3]) if len(argv) > 3 else 3, 0.0, own)
    if argv[:1] == ["faults"]:
        return faults(int(argv[1]) if len(argv) > 1 else 200, 5.0, 20.0)
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10,50,100,500")
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--only", action="append", help="only runs whose name contains this")
    p.add_argument("--repeat", type=int, default=1, help="runs of each measure; the median by CPU is reported")
    a = p.parse_args(argv)
    return run([int(x) for x in a.sizes.split(",")], a.latency_ms, a.only, max(1, a.repeat))


if __name__ == "__main__":
    sys.exit(main())
