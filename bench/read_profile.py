"""The host-state read on the lab, part by part: time and processes started, per host and engine.

    python -m bench.read_profile [--repeat 5] [--out FILE]

Runs bench/read_parts.py through pyinfra on the running lab (nothing is changed on the hosts),
prints a table per host and writes the rows as JSON (bench/results/read-<time>.json by default).
A part's time is the mean of REPEAT runs in a row on the host itself, without the SSH round trip;
its processes are those the host started meanwhile (forks, the part's own subshell included), so
a part that runs only shell builtins shows 1.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def profile(inventory: str = "inventories/lab.py", repeat: int = 5) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "read.json"
        env = dict(os.environ, DOCKWRIGHT_READ_PROFILE=str(out), DOCKWRIGHT_READ_REPEAT=str(repeat))
        res = subprocess.run([sys.executable, "-m", "pyinfra", inventory, "bench/read_parts.py", "-y"], cwd=REPO,
                             env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if res.returncode != 0 or not out.exists():
            raise SystemExit(f"read profile failed (exit {res.returncode}):\n{res.stdout[-3000:]}{res.stderr[-2000:]}")
        hosts = json.loads(out.read_text())
    for h in hosts:
        # Each repetition runs in a subshell of the harness: that fork is the part's own process.
        for row in h["parts"]:
            row["processes"] = round(row["processes"] + 1, 1)
    return sorted(hosts, key=lambda h: h["host"])


def table(hosts: list[dict]) -> str:
    lines = []
    for h in hosts:
        lines.append(f"  {h['host']} ({h['package'] or 'no package'} {h['engine']}):")
        for row in h["parts"]:
            lines.append(f"    {row['part'][:72]:72} {row['ms']:8.1f} ms {row['processes']:6.1f} processes")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.read_profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    print(f"read profile: each part {args.repeat} times on every lab host", flush=True)
    hosts = profile(repeat=args.repeat)
    print(table(hosts))
    out = args.out or REPO / "bench" / "results" / time.strftime("read-%Y%m%dT%H%M%S.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(hosts, indent=1) + "\n")
    print(f"read profile: {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
