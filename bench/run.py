"""make bench: what a run costs on the lab, dockwright vs a naive pyinfra baseline.

Measures, per variant: cold converge on fresh VMs, a converged no-op deploy, and for dockwright
also drift.py with no drift and the standalone verification. For each: wall time, the time of
each phase and the remote commands per host (bench.timed, through pyinfra's API), controller CPU
time and peak memory of the process tree. Prints a table with ratios and writes
bench/results/<timestamp>.json.

Then the no-op deploys paired: on one converged lab, dockwright's and the naive baseline's
no-ops (both write the same files, so each finds the other's work done), a second naive baseline
held out from tuning (bench/naive_heldout.py) and the floor (``pyinfra INVENTORY exec -- true``:
connect, one command, disconnect) run in turn, A B H F A B H F, after a warm-up of each, and the ratios of each round's walls are printed as medians with their spread:
emulated hosts drift in speed over minutes, and a round shares the moment. Last, the host-state
read alone on each host and engine, part by part (bench.read_profile).
``python -m bench.run paired [ROUNDS]`` runs those two parts alone, on the running lab.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import read_profile

REPO = Path(__file__).resolve().parent.parent
INV = "inventories/lab.py"
# Compared runs manage the same concerns: swarm/overlays and verification are left out.
SCOPE = ["--data", 'concerns={"swarm": false, "verify": false}']


def measure(label: str, argv: list[str]) -> dict:
    """Runs argv once, timed, under bench.timed: its phases and remote commands per host come
    from pyinfra's own API; the verification suite counts its own commands."""
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    count_file, phase_file = results / "count.tmp", results / "phases.tmp"
    count_file.unlink(missing_ok=True)
    phase_file.unlink(missing_ok=True)
    env = dict(os.environ, DOCKWRIGHT_COUNT_FILE=str(count_file), DOCKWRIGHT_PHASES=str(phase_file))
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            stdin=subprocess.DEVNULL)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    timed = json.loads(phase_file.read_text()) if phase_file.exists() else {}
    per_host: dict[str, int] = dict(timed.get("commands_per_host", {}))
    if count_file.exists():
        for host in count_file.read_text().split():
            per_host[host] = per_host.get(host, 0) + 1
    result = {"label": label, "wall_s": round(wall, 1), "rc": proc.returncode,
              "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
              "phases_s": timed.get("phases", {}), "commands_per_host": per_host,
              "commands_per_host_mean": round(sum(per_host.values()) / len(per_host), 1) if per_host else None}
    phases = ", ".join(f"{k} {v}" for k, v in result["phases_s"].items())
    print(f"  {label}: {result['wall_s']} s, {result['commands_per_host_mean']} commands/host, rc {proc.returncode}"
          f"{'; phases: ' + phases if phases else ''}", flush=True)
    (results / f"{label.replace(' ', '_')}.log").write_text(out)
    if proc.returncode not in (0, 2):
        print(out[-3000:])
    return result


TIMED = [sys.executable, "-m", "bench.timed"]


def pyinfra(deploy: str, *extra, scope=SCOPE) -> list[str]:
    return [*TIMED, "pyinfra", INV, deploy, "-y", *scope, *extra]


ALL = ["--data", 'verify={"after_deploy": false}']


def fresh_lab() -> None:
    subprocess.run([sys.executable, "-m", "lab", "down"], cwd=REPO, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "lab", "up"], cwd=REPO, check=True, capture_output=True)


FLOOR = [*TIMED, "pyinfra", INV, "exec", "--", "true"]


def paired(pairs: int = 3) -> dict:
    """dockwright's no-op against the two naive ones (bench/naive_deploy.py, and the held-out
    bench/naive_heldout.py) and against the floor (connect, one command, disconnect: ``pyinfra
    INVENTORY exec -- true``), in turn on the same lab: A B H F A B H F ... Each round's ratios
    are dockwright's wall over each other's; the medians and spreads are over rounds."""
    argv = {"dockwright": pyinfra("deploy.py"), "naive": pyinfra("bench/naive_deploy.py"),
            "heldout": pyinfra("bench/naive_heldout.py"), "floor": FLOOR}
    print(f"bench: paired no-op deploys and the floor, a warm-up of each, then {pairs} rounds", flush=True)
    for name in ("naive", "heldout", "dockwright", "floor"):
        measure(f"paired warm-up {name}", argv[name])
    rows = []
    for i in range(1, pairs + 1):
        walls = {name: measure(f"paired {i} {name}", command) for name, command in argv.items()}
        row = {f"{name}_s": r["wall_s"] for name, r in walls.items()}
        for other in ("naive", "heldout", "floor"):
            row[f"ratio_{other}"] = round(walls["dockwright"]["wall_s"] / walls[other]["wall_s"], 3)
        rows.append(row | {"rc": max(r["rc"] for r in walls.values())})
    result = {"pairs": rows}
    for other in ("naive", "heldout", "floor"):
        ratios = [r[f"ratio_{other}"] for r in rows]
        result[other] = {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
        print(f"  paired no-op, dockwright / {other} wall: median {statistics.median(ratios):.2f}x "
              f"(spread {min(ratios):.2f}-{max(ratios):.2f}, {pairs} rounds: "
              + ", ".join(f"{r['dockwright_s']} / {r[other + '_s']} s" for r in rows) + ")", flush=True)
    return result


def main_paired(pairs: int) -> int:
    """The paired part alone: the lab up (running VMs reused) and converged by dockwright first."""
    subprocess.run([sys.executable, "-m", "lab", "up"], cwd=REPO, check=True)
    subprocess.run(pyinfra("deploy.py", scope=ALL), cwd=REPO, check=True, capture_output=True)
    result = paired(pairs)
    result["read"] = read_profile.profile()
    print(read_profile.table(result["read"]))
    out = REPO / "bench" / "results"
    (out / time.strftime("paired-%Y%m%dT%H%M%S.json")).write_text(json.dumps(result, indent=1) + "\n")
    return 0 if all(r["rc"] in (0, 2) for r in result["pairs"]) else 1


def main() -> int:
    results = {}
    print("bench: fresh lab for dockwright", flush=True)
    fresh_lab()
    results["dockwright cold converge"] = measure("dockwright cold converge", pyinfra("deploy.py"))
    results["dockwright no-op deploy"] = measure("dockwright no-op deploy", pyinfra("deploy.py"))
    # The rest covers every concern: swarm and overlays join in (not measured), then no-op.
    subprocess.run(pyinfra("deploy.py", scope=ALL), cwd=REPO, check=True, capture_output=True)
    results["dockwright no-op, all concerns"] = measure("dockwright no-op, all concerns",
                                                        pyinfra("deploy.py", scope=ALL))
    results["dockwright drift (no drift)"] = measure("dockwright drift (no drift)", [*TIMED, "drift", INV])
    results["dockwright verification"] = measure(
        "dockwright verification", [sys.executable, "-m", "dockwright.verify", "-q", "-p",
                                    "no:cacheprovider", "--inventory", INV, "-n", "3", "--dist", "loadgroup"])
    pairs = paired()
    print("bench: the host-state read, part by part", flush=True)
    read = read_profile.profile()
    print("bench: fresh lab for the naive baseline", flush=True)
    fresh_lab()
    results["naive cold converge"] = measure("naive cold converge", pyinfra("bench/naive_deploy.py"))
    results["naive no-op deploy"] = measure("naive no-op deploy", pyinfra("bench/naive_deploy.py"))
    subprocess.run([sys.executable, "-m", "lab", "down"], cwd=REPO, check=True, capture_output=True)

    print("\n  run                          wall s   cmds/host   CPU s   peak MB   vs naive (wall / cmds)")
    for name, r in results.items():
        base = results.get(name.replace("dockwright", "naive"))
        ratio = ""
        if base and base is not r and r["commands_per_host_mean"]:
            ratio = (f"{base['wall_s'] / r['wall_s']:.2f}x / "
                     f"{base['commands_per_host_mean'] / r['commands_per_host_mean']:.2f}x fewer")
        print(f"  {name:28} {r['wall_s']:7}   {r['commands_per_host_mean']!s:>9}   {r['cpu_s']:5}   "
              f"{r['peak_rss_mb']:7}   {ratio}")
    mine, base = results.get("dockwright no-op deploy"), results.get("naive no-op deploy")
    if mine and base:
        print("\n  no-op deploy, same scope, by phase: dockwright s / naive s (ratio)")
        # Every phase either run has (the naive one has no preflight or plan), in run order.
        for phase in dict.fromkeys([*mine["phases_s"], *base["phases_s"]]):
            a, b = mine["phases_s"].get(phase, 0.0), base["phases_s"].get(phase, 0.0)
            print(f"    {phase:10} {a:7.2f} / {b:7.2f}   {a / b if b else float('nan'):.2f}x")
        print(f"    {'total':10} {mine['wall_s']:7.2f} / {base['wall_s']:7.2f}   {mine['wall_s'] / base['wall_s']:.2f}x wall, "
              f"{mine['cpu_s'] / base['cpu_s']:.2f}x controller CPU")
    verify, cold = results.get("dockwright verification"), results.get("dockwright cold converge")
    if verify and cold:
        # #17's targets: verification no longer than a cold converge, at most 12 commands a host.
        print(f"\n  verification {verify['wall_s']} s vs cold converge {cold['wall_s']} s "
              f"({verify['wall_s'] / cold['wall_s']:.2f}x); {max(verify['commands_per_host'].values())} commands on the busiest host")
    print("\n  no-op deploy paired on one lab (A B H F): dockwright's wall over " + "; ".join(
        f"{other} median {pairs[other]['median']:.2f}x (spread {pairs[other]['min']:.2f}-{pairs[other]['max']:.2f})"
        for other in ("naive", "heldout", "floor")))
    print("\n  the host-state read alone, on each host and engine (bench.read_profile):")
    print(read_profile.table(read))
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / time.strftime("%Y%m%dT%H%M%S.json")
    path.write_text(json.dumps({**results, "paired no-op": pairs, "read": read}, indent=1) + "\n")
    print(f"\nbench: results in {path.relative_to(REPO)}")
    return 0 if all(r["rc"] in (0, 2) for r in results.values()) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["paired"]:
        sys.exit(main_paired(int(sys.argv[2]) if len(sys.argv) > 2 else 3))
    sys.exit(main())
