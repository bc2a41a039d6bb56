"""Runs pyinfra's CLI (or drift.py) in this process and records where the run's time goes and how
many remote commands each host received: pyinfra's state callbacks for the phases, and wrappers
around State.init, the Host methods that reach a host and dockwright's fleet check (internals,
named in dockwright/pyinfra_internals.py; a benchmark only). Nothing is read from pyinfra's log
text.

    DOCKWRIGHT_PHASES=out.json python -m bench.timed pyinfra INVENTORY deploy.py -y ...
    DOCKWRIGHT_PHASES=out.json python -m bench.timed drift INVENTORY

Phases, in seconds: startup (Python, pyinfra, the inventory), connect, preflight (validation and
the host-state reads), plan (the operations prepared for every host), execute (operations
until verification), verify (the testinfra suite), finish (results, disconnect).
"""

import atexit
import json
import os
import sys
import time

OUT = os.environ.get("DOCKWRIGHT_PHASES")
marks: dict[str, float] = {"start": time.time()}
commands: dict[str, int] = {}


def _mark(name: str, first: bool = True) -> None:
    if first:
        marks.setdefault(name, time.time())
    else:
        marks[name] = time.time()


def phases(m: dict[str, float]) -> dict[str, float]:
    """Durations of the phases from the marks; a phase that did not happen is left out."""
    end = m["end"]
    exec_end = m.get("execute_end", end)
    points = [("startup", m["start"]), ("connect", m.get("connect_start")), ("preflight", m.get("preflight_start")),
              ("plan", m.get("preflight_end")), ("execute", m.get("execute_start")),
              ("verify", m.get("verify_start")), ("finish", m.get("verify_end", exec_end))]
    points = [(n, t) for n, t in points if t is not None]
    out = {}
    for (name, t), (_, nxt) in zip(points, points[1:] + [("end", end)]):
        out[name] = round(max(nxt - t, 0.0), 2)
    return out


def _write() -> None:
    marks["end"] = time.time()
    if OUT:
        with open(OUT, "w") as f:
            json.dump({"marks": marks, "phases": phases(marks), "commands_per_host": commands}, f, indent=1)


def install() -> None:
    from pyinfra.api import host as host_module
    from pyinfra.api.state import BaseStateCallback, State

    from dockwright import preflight

    class Phases(BaseStateCallback):
        @staticmethod
        def host_before_connect(state, host):
            _mark("connect_start")

        @staticmethod
        def host_connect(state, host):
            _mark("connect_end", first=False)

        @staticmethod
        def operation_start(state, op_hash):
            _mark("execute_start")
            if any(n.startswith("verify:") for n in state.op_meta[op_hash].names):
                _mark("verify_start")

        @staticmethod
        def operation_end(state, op_hash):
            _mark("execute_end", first=False)
            if any(n.startswith("verify:") for n in state.op_meta[op_hash].names):
                _mark("verify_end", first=False)

    init = State.init

    def state_init(self, *args, **kwargs):
        result = init(self, *args, **kwargs)
        self.add_callback_handler(Phases())
        return result

    State.init = state_init

    def counted(method):
        def wrapper(self, *args, **kwargs):
            commands[self.name] = commands.get(self.name, 0) + 1
            return method(self, *args, **kwargs)
        return wrapper

    host_module.Host.run_shell_command = counted(host_module.Host.run_shell_command)
    host_module.Host.put_file = counted(host_module.Host.put_file)

    check = preflight._check_fleet

    def timed_check():
        _mark("preflight_start")
        try:
            return check()
        finally:
            _mark("preflight_end", first=False)

    preflight._check_fleet = timed_check
    atexit.register(_write)


def main() -> None:
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, repo)
    install()
    tool, args = sys.argv[1], sys.argv[2:]
    if tool == "drift":
        from dockwright.commands import drift
        sys.exit(drift.main(args))
    from dockwright import pyinfra_internals
    sys.argv = ["pyinfra", *args]
    pyinfra_internals.cli_entry()


if __name__ == "__main__":
    main()
