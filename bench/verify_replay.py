"""The verification suite against simulated hosts: what it costs at fleet size, not what it finds.
A pytest plugin of bench's distribution (its ``pytest11`` entry point), inert unless one of
the variables below is set; it implements the suite's hooks (dockwright/verify/hooks.py).

    DOCKWRIGHT_VERIFY_RECORD=DIR python -m dockwright.verify --inventory bench/record_inventory.py
        records every command the suite sends to the lab's hosts, and its answer, by role
    DOCKWRIGHT_VERIFY_REPLAY=DIR python -m dockwright.verify --inventory bench/sim_inventory.py
        answers each simulated host's commands from its role's recording (after a fixed
        latency) instead of connecting

Commands and answers are stored with the host's name, its address, the other hosts' addresses
and the suite's process ids replaced by placeholders, so one lab host's answers serve hundreds
of simulated ones. Answers that depend on which peer asked (the port policy) are the last one
recorded: in replay those checks may fail; the figures are the suite's cost (bench/scale.py).
A host whose data says ``replay_fault: unreachable`` answers as ssh does when a host is down.
A command with no recording answers exit 127, naming it, never an empty success.
"""

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench import replay as host_replay

RECORD_ENV, REPLAY_ENV = "DOCKWRIGHT_VERIFY_RECORD", "DOCKWRIGHT_VERIFY_REPLAY"
LATENCY_ENV = "DOCKWRIGHT_REPLAY_LATENCY_MS"  # the same round trip bench/replay.py gives pyinfra
PID = re.compile(r"\b(dw-verify-[a-z]+)-\d+\b")
FLEET: set[str] = set()  # the data addresses of the run's hosts


@dataclass
class Answer:
    """What testinfra's CommandResult gives the suite: rc, stdout, stderr."""
    rc: int
    stdout: str
    stderr: str

    @property
    def exit_status(self) -> int:
        return self.rc


def _generic(text: str, name: str, addr: str | None) -> str:
    """bench/replay.py's placeholders (the host's name and address, no swarm token), plus the
    suite's process ids and the other hosts' addresses."""
    text = PID.sub(r"\1-@@PID@@", host_replay.generic(text, name, addr))
    for other in FLEET - {addr}:
        text = re.sub(rf"\b{re.escape(other)}\b", "@@PEER@@", text)
    return text


def _specific(text: str, name: str, addr: str | None) -> str:
    text = text.replace("@@PID@@", str(os.getpid())).replace("@@PEER@@", addr or "127.0.0.1")
    return host_replay.specific(text, name, addr)


def role_of(data: dict) -> str | None:
    return data.get("replay_role")


_recorded: dict[str, dict] = {}
_loaded: dict[str, dict] = {}


def record(data: dict, name: str, command: str, res) -> None:
    role, addr = role_of(data), data.get("data_ip")
    if role:
        _recorded.setdefault(role, {})[_generic(command, name, addr)] = {
            "rc": res.rc, "stdout": _generic(res.stdout, name, addr), "stderr": _generic(res.stderr, name, addr)}


def save() -> None:
    """This process's recordings, merged into DIR/verify-<role>.json."""
    out = Path(os.environ[RECORD_ENV])
    out.mkdir(parents=True, exist_ok=True)
    for role, commands in _recorded.items():
        path = out / f"verify-{role}.json"
        old = json.loads(path.read_text())["commands"] if path.exists() else {}
        path.write_text(json.dumps({"recorded": time.time(), "commands": {**old, **commands}},
                                   indent=0, sort_keys=True) + "\n")


def answer(data: dict, name: str, command: str) -> Answer:
    role, addr = role_of(data), data.get("data_ip")
    if data.get("replay_fault") == "unreachable":  # as ssh reports a host that does not answer
        return Answer(255, "", f"ssh: connect to host {name} port 22: Connection timed out")
    if role not in _loaded:
        path = Path(os.environ[REPLAY_ENV]) / f"verify-{role}.json"
        _loaded[role] = json.loads(path.read_text())["commands"] if path.exists() else {}
    time.sleep(float(os.environ.get(LATENCY_ENV, "20")) / 1000)
    entry = _loaded[role].get(_generic(command, name, addr))
    if entry is None:
        return Answer(127, "", f"dwreplay: no recording of this command for role {role}: {command[:200]}")
    return Answer(entry["rc"], _specific(entry["stdout"], name, addr), _specific(entry["stderr"], name, addr))


def recording() -> bool:
    return bool(os.environ.get(RECORD_ENV))


def replaying(data: dict) -> bool:
    return bool(os.environ.get(REPLAY_ENV)) and bool(role_of(data))


# ---- the suite's hooks --------------------------------------------------------------------------

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    targets = getattr(config, "_dw_targets", None) or {}
    FLEET.update(t.data["data_ip"] for t in targets.values() if t.data.get("data_ip"))


@pytest.hookimpl(optionalhook=True)
def pytest_dockwright_verify_run(target, command):
    return answer(target.data, target.name, command) if replaying(target.data) else None


@pytest.hookimpl(optionalhook=True)
def pytest_dockwright_verify_ran(target, command, result):
    if recording():
        record(target.data, target.name, command, result)


def pytest_sessionfinish(session):
    if recording():
        save()
