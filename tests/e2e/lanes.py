"""The e2e suite in three phases, so that scenarios on different VMs run at the same time.

    python tests/e2e/lanes.py          (make e2e)

1. **setup**: the lab comes up, bad data is refused, the first deploy converges the fleet.
2. **lanes**: the scenarios marked ``@lane("standalone")`` (they touch lab3 alone) and those
   marked ``@lane("swarm")`` (lab1 and lab2 alone) run side by side, one pytest process per
   lane. Each VM is driven by one lane at a time, so its scenarios see only their own changes;
   under emulation a VM is one busy CPU, and the other one would otherwise wait.
3. **fleet**: every other scenario (whole-fleet runs, faults across hosts), one at a time.

A failed setup still runs the rest, on a lab converged again first. Each phase's output is
printed as it comes, each line prefixed with the phase or lane; a line every 20 s says what
each phase still running is doing. At the end: the phases' outcomes and times, every failure,
and the slowest scenarios. Exit 1 when any phase failed or selected no scenario.
Plain ``pytest tests/e2e`` still runs every scenario one after the other, in file order.
"""

import codecs
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INVENTORY = "inventories/lab.py"
NO_VERIFY = ["--data", 'verify={"after_deploy": false}']
# Each lane and the lab VMs its scenarios may touch (and whose panics concern it).
LANES = {"standalone": ("lab3",), "swarm": ("lab1", "lab2")}
SETUP = ("tests/e2e/test_01_validation.py", "tests/e2e/test_02_deploy.py")
REPORTS = REPO / "reports"
HEARTBEAT = 20  # seconds between the "still running" lines


class Phase:
    """One pytest process of the suite, its output streamed with a prefix."""

    def __init__(self, name: str, args: list[str], env: dict):
        self.name, self.junit = name, REPORTS / f"e2e-{name}.xml"
        self.argv = [sys.executable, "-m", "pytest", "-v", "-rfE", "-p", "no:cacheprovider",
                     f"--junitxml={self.junit}", *args]
        self.env, self.partial, self.started, self.since, self.proc = env, "", 0.0, 0.0, None
        self.rc: int | None = None
        self.seconds = 0.0

    def start(self) -> "Phase":
        self.junit.unlink(missing_ok=True)
        self.started = self.since = time.monotonic()
        print(f"e2e: {self.name}: {' '.join(self.argv[3:])}", flush=True)
        self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._stream, daemon=True)
        self._reader.start()
        return self

    def _stream(self) -> None:
        fd, text = self.proc.stdout.fileno(), codecs.getincrementaldecoder("utf-8")(errors="replace")
        while chunk := os.read(fd, 65536):
            *lines, self.partial = (self.partial + text.decode(chunk)).split("\n")
            for line in lines:
                print(f"[{self.name}] {line}", flush=True)
            if lines:
                self.since = time.monotonic()  # the line being written now began here
        if self.partial:
            print(f"[{self.name}] {self.partial}", flush=True)
            self.partial = ""
        # Said as it ends, while the other lane may run on.
        self.rc = self.proc.wait()
        self.seconds = time.monotonic() - self.started
        print(f"e2e: {self.name}: exit {self.rc} after {self.seconds:.0f} s", flush=True)

    def wait(self) -> int:
        self._reader.join()
        return self.rc

    def doing(self) -> str:
        """The scenario it runs now and for how long: pytest -v prints its id before running it."""
        scenario = self.partial.strip().split(" ")[0]
        return f"{scenario} ({time.monotonic() - self.since:.0f} s)" if scenario else "between scenarios"


def _env(**extra: str) -> dict:
    return dict(os.environ, DOCKWRIGHT_E2E_LAB="up", **extra)


def run_side_by_side(phases: list[Phase]) -> None:
    for p in phases:
        p.start()
    while any(p.proc.poll() is None for p in phases):
        deadline = time.monotonic() + HEARTBEAT
        while time.monotonic() < deadline and any(p.proc.poll() is None for p in phases):
            time.sleep(1)
        running = [p for p in phases if p.proc.poll() is None]
        if running:
            print("e2e: still running: " + "; ".join(
                f"{p.name} {time.monotonic() - p.started:.0f} s, now {p.doing()}" for p in running), flush=True)
    for p in phases:
        p.wait()


def converge() -> bool:
    print("e2e: setup failed; converging the lab again before the other phases", flush=True)
    res = subprocess.run([sys.executable, "-m", "pyinfra", INVENTORY, "deploy.py", "-y", *NO_VERIFY], cwd=REPO)
    return res.returncode == 0


def scenarios(phase: Phase) -> list[tuple[str, float, str]]:
    """(scenario, seconds, outcome, first line of its message) from the phase's JUnit report."""
    try:
        root = ET.parse(phase.junit).getroot()
    except (OSError, ET.ParseError):
        return []
    found = []
    for case in root.iter("testcase"):
        bad = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        outcome = "passed" if bad is None else bad.tag
        why = ((bad.get("message") or "").strip().splitlines() or [""])[0][:160] if bad is not None else ""
        found.append((f"{case.get('classname')}::{case.get('name')}", float(case.get("time", 0)), outcome, why))
    return found


def summary(phases: list[Phase], wall: float) -> int:
    """Slowest scenarios first, then each phase and every failure: a log cut to its tail keeps those."""
    print("\n==== e2e summary ====")
    found = {p.name: scenarios(p) for p in phases}
    rows = [(name, *s) for name, cases in found.items() for s in cases]
    print("slowest scenarios (seconds):")
    for name, case, seconds, outcome, _ in sorted(rows, key=lambda r: -r[2])[:10]:
        print(f"  {seconds:6.0f}  [{name}] {case}" + ("" if outcome == "passed" else f"  <- {outcome}"))
    failed = False
    for p in phases:
        counts = {k: sum(1 for s in found[p.name] if s[2] == k) for k in ("passed", "failure", "error", "skipped")}
        bad = p.rc != 0 or not found[p.name]
        failed |= bad
        print(f"{p.name:>10}: exit {p.rc}, {p.seconds:5.0f} s; {counts['passed']} passed, "
              f"{counts['failure']} failed, {counts['error']} errors, {counts['skipped']} skipped"
              + ("  <- FAILED" if bad else ""))
    for name, case, _, outcome, why in rows:
        if outcome in ("failure", "error"):
            print(f"  {outcome}: [{name}] {case}: {why}")
    print(f"e2e: {'FAILED' if failed else 'passed'} in {wall:.0f} s ({len(rows)} scenarios)", flush=True)
    return 1 if failed else 0


def main(extra: list[str]) -> int:
    began = time.monotonic()
    REPORTS.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "lab", "up"], cwd=REPO, check=True)
    setup = Phase("setup", [*SETUP, *extra], _env())
    run_side_by_side([setup])
    if setup.rc != 0 and not converge():
        print("e2e: the lab does not converge; the other phases cannot start", flush=True)
        return summary([setup], time.monotonic() - began)
    lanes = [Phase(name, ["tests/e2e", "--lane", name, *extra],
                   _env(DOCKWRIGHT_E2E_DEPLOYED="1", DOCKWRIGHT_E2E_LANE=name, DOCKWRIGHT_E2E_VMS=",".join(vms)))
             for name, vms in LANES.items()]
    run_side_by_side(lanes)
    fleet = Phase("fleet", ["tests/e2e", "--lane", "fleet", *(f"--ignore={f}" for f in SETUP), *extra],
                  _env(DOCKWRIGHT_E2E_DEPLOYED="1"))
    run_side_by_side([fleet])
    return summary([setup, *lanes, fleet], time.monotonic() - began)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
