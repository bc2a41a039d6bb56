"""The lab under steady load, counting run-time kernel panics.

    python -m lab soak --hours 2 [--out bench/results/soak-NAME.json]

Brings the lab up, then runs, in a loop until the time is spent: a deploy with verification, a
drift check, and a drift check after a value was drifted by hand (so that --fix has work). The
console monitor watches every VM meanwhile; a VM that panics is recorded with its console
lines, the lab is brought up again and the VM re-converged, and the loop goes on.

Prints a line per step, and at the end the VM-hours (VMs running x wall time, recoveries left
out), the panics with their lines and the recoveries, as text and JSON. The lab settings in
force (accelerator, vCPUs, CPU model, kernel options: DOCKWRIGHT_LAB_*) are recorded with them,
so runs with different settings can be compared.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import config, monitor, vm

INVENTORY = "inventories/lab.py"
NO_VERIFY = ["--data", 'verify={"after_deploy": false}']


def settings() -> dict:
    return {"tcg": os.environ.get("DOCKWRIGHT_LAB_TCG", "single"), "cpus": config.CPUS,
            "cpu_model": vm.CPU_MODEL or "qemu default", "kernel_extra": vm.KERNEL_EXTRA,
            "memory_mb": config.MEMORY_MB, "suites": {v.name: v.suite for v in config.FLEET}}


def _steps():
    py = sys.executable
    drifted = "sysctl -w net.core.somaxconn=1024 >/dev/null"
    return [
        ("deploy+verify", None, [py, "-m", "pyinfra", INVENTORY, "deploy.py", "-y"]),
        ("drift", None, [py, "drift.py", INVENTORY]),
        ("drift --fix", drifted, [py, "drift.py", INVENTORY, "--fix"]),
    ]


def _recover(panics: list, log) -> float:
    """The lab up again and the panicked VMs re-converged; returns the seconds it took."""
    start = time.monotonic()
    vm.up()
    names = sorted({p.vm for p in panics})
    subprocess.run([sys.executable, "-m", "pyinfra", INVENTORY, "deploy.py", "-y", *NO_VERIFY,
                    "--limit", ",".join(names)], cwd=config.REPO, capture_output=True, text=True, timeout=1800)
    took = time.monotonic() - start
    log(f"recovered {', '.join(names)} in {took:.0f} s")
    return took


def run(hours: float, out: Path | None) -> int:
    log = lambda msg: print(f"soak {time.strftime('%H:%M:%S')}: {msg}", flush=True)  # noqa: E731
    vm.up()
    began = time.monotonic()
    vm_seconds, steps, panics, recoveries = 0.0, [], [], []
    with monitor.Monitor() as m:
        while time.monotonic() - began < hours * 3600:
            for name, before, argv in _steps():
                mark, t0 = m.mark(), time.monotonic()
                if before:
                    for v in config.FLEET:
                        vm.run(v.name, before, check=False, timeout=120)
                proc = subprocess.Popen(argv, cwd=config.REPO, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
                while proc.poll() is None:
                    time.sleep(1)
                    if m.since(mark):
                        os.killpg(proc.pid, 15)
                took = time.monotonic() - t0
                vm_seconds += took * len(config.FLEET)
                new = m.since(mark)
                steps.append({"step": name, "rc": proc.wait(), "seconds": round(took, 1),
                              "panic": [str(p) for p in new]})
                log(f"{name}: exit {steps[-1]['rc']} in {took:.0f} s, VM-hours so far "
                    f"{vm_seconds / 3600:.2f}, panics {len(panics) + len(new)}")
                if new:
                    panics += [{"vm": p.vm, "kind": p.kind, "lines": p.lines,
                                "vm_hours_at": round(vm_seconds / 3600, 2)} for p in new]
                    recoveries.append(round(_recover(new, log), 1))
                    break
    result = {"settings": settings(), "hours_asked": hours, "wall_s": round(time.monotonic() - began),
              "vm_hours": round(vm_seconds / 3600, 2), "panics": panics, "recoveries_s": recoveries,
              "steps": len(steps), "failed_steps": sum(1 for s in steps if s["rc"] not in (0, 2) and not s["panic"]),
              "vm_hours_per_panic": round(vm_seconds / 3600 / len(panics), 2) if panics else None}
    log(f"{result['vm_hours']} VM-hours, {len(panics)} panic(s), {len(recoveries)} recovery(ies), "
        f"{result['steps']} steps ({result['failed_steps']} failed without a panic; drift exit 2 is drift found, not a failure); settings {result['settings']}")
    for p in panics:
        log(f"  panic on {p['vm']} ({p['kind']}) at {p['vm_hours_at']} VM-hours:\n      " + "\n      ".join(p["lines"]))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
        log(f"written to {out}")
    return 0


def cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m lab soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = p.parse_args(argv)
    return run(args.hours, args.out)
