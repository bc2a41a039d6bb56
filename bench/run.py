"""make bench: what a run costs on the lab, dockwright vs a naive pyinfra baseline.

Measures, per variant: cold converge on fresh VMs, a converged no-op deploy, and for dockwright
also drift.py with no drift and the standalone verification. For each: wall time, remote
commands per host (counted from pyinfra's debug log: one "Running command on HOST" line per
command, plus file uploads), controller CPU time and peak memory of the process tree.
Prints a table with ratios and writes bench/results/<timestamp>.json.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INV = "inventories/lab.py"
# Compared runs manage the same concerns: swarm/overlays and verification are left out.
SCOPE = ["--data", 'concerns={"swarm": false, "verify": false}']


def measure(label: str, argv: list[str], count_argv: list[str] | None = None) -> dict:
    """Runs argv once, timed. Remote commands are counted from pyinfra's --debug log, from
    count_argv's log when given (the same pyinfra work argv does through a wrapper), or from
    the verification suite's own counter."""
    count_file = REPO / "bench" / "results" / "count.tmp"
    count_file.parent.mkdir(exist_ok=True)
    count_file.unlink(missing_ok=True)
    env = dict(os.environ, DOCKWRIGHT_COUNT_FILE=str(count_file))
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    log = out
    if count_argv:
        log = subprocess.run(count_argv, cwd=REPO, capture_output=True, text=True).stderr
    per_host: dict[str, int] = {}
    if count_file.exists():
        for host in count_file.read_text().split():
            per_host[host] = per_host.get(host, 0) + 1
    # pyinfra's --debug output carries each record twice (two handlers): count a command once.
    previous = None
    for entry in re.findall(r"Running command on (\S+?): (.*)", log):
        if entry != previous:
            per_host[entry[0]] = per_host.get(entry[0], 0) + 1
        previous = entry
    # Uploads are logged without the host: every host gets the same files, so share them out.
    uploads = len(set(re.findall(r"Attempting upload of (.*)", log)))
    hosts = list(per_host)
    for host in hosts:
        per_host[host] += uploads // max(len(hosts), 1)
    result = {"label": label, "wall_s": round(wall, 1), "rc": proc.returncode,
              "cpu_s": round(usage.ru_utime + usage.ru_stime, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
              "commands_per_host": per_host,
              "commands_per_host_mean": round(sum(per_host.values()) / len(per_host), 1) if per_host else None}
    print(f"  {label}: {result['wall_s']} s, {result['commands_per_host_mean']} commands/host, rc {proc.returncode}",
          flush=True)
    (REPO / "bench" / "results" / f"{label.replace(' ', '_')}.log").write_text(out + log if count_argv else out)
    if proc.returncode not in (0, 2):
        print(out[-3000:])
    return result


def pyinfra(deploy: str, *extra, scope=SCOPE) -> list[str]:
    return [sys.executable, "-m", "pyinfra", INV, deploy, "-y", "--debug", *scope, *extra]


ALL = ["--data", 'verify={"after_deploy": false}']
# What drift.py runs, with --debug so its commands can be counted.
DRIFT_PLAN = [sys.executable, "-m", "pyinfra", INV, "deploy.py", "--dry", "--json", "--debug", *ALL]


def fresh_lab() -> None:
    subprocess.run([sys.executable, "-m", "lab", "down"], cwd=REPO, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "lab", "up"], cwd=REPO, check=True, capture_output=True)


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
    results["dockwright drift (no drift)"] = measure(
        "dockwright drift (no drift)", [sys.executable, "drift.py", INV], count_argv=DRIFT_PLAN)
    results["dockwright verification"] = measure(
        "dockwright verification", [sys.executable, "-m", "pytest", "tests/verify", "-q", "-p",
                                    "no:cacheprovider", "--inventory", INV, "-n", "3", "--dist", "loadgroup"])
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
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / time.strftime("%Y%m%dT%H%M%S.json")
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nbench: results in {path.relative_to(REPO)}")
    return 0 if all(r["rc"] in (0, 2) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
