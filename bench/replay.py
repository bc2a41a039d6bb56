"""Simulated hosts for benchmarks: record what real lab hosts answer, replay it for N hosts.

It measures the controller (pyinfra, dockwright's planning, preflight across the fleet), never
the hosts: every simulated host answers instantly after a fixed round-trip latency.

    @dwrecord/lab1    an SSH host whose commands and answers are recorded (bench/record.py)
    @dwreplay/NAME    a simulated host answering from a recording of its role

A recording is one JSON file per role (bench/recording/<role>.json): for each command, as
pyinfra would send it, its exit status, stdout and stderr. The recorded host's own name and
data address are stored as placeholders, so each simulated host gets its own. Whether the
command succeeded is kept, as pyinfra judged it (the same _success_exit_codes apply on replay).
A command with no recording is an error naming it, never an empty success, except for a test
that asks for it (DOCKWRIGHT_REPLAY_SINK): there each such command, and each file sent, is
written to that file and succeeds with no output, so a run that changes things can be replayed
and what it would send compared (tests/integration/test_hostile_recordings.py).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import time
from pathlib import Path

from pyinfra.api.exceptions import InventoryError
from pyinfra.connectors.base import BaseConnector
from pyinfra.connectors.ssh import SSHConnector
from pyinfra.connectors.util import CommandOutput, OutputLine, make_unix_command_for_host

RECORDINGS = Path(os.environ.get("DOCKWRIGHT_REPLAY_DIR") or Path(__file__).resolve().parent / "recording")
HOST, ADDR = "@@HOST@@", "@@DATA_IP@@"
LATENCY_ENV = "DOCKWRIGHT_REPLAY_LATENCY_MS"  # round trip per command, default 20 ms
COUNT_ENV = "DOCKWRIGHT_COUNT_FILE"  # one line per command and host, as the verification suite writes
TRACE_ENV = "DOCKWRIGHT_REPLAY_TRACE"  # host<TAB>command per line: which reads a run makes
SINK_ENV = "DOCKWRIGHT_REPLAY_SINK"  # host<TAB>command per line: what a run sent beyond its reads
TOKEN = re.compile(r"SWMTKN-[0-9A-Za-z-]+")


def _key(command: str, stdin) -> str:
    if stdin is None:
        return command
    data = stdin if isinstance(stdin, (str, bytes)) else "\n".join(stdin)
    data = data.encode() if isinstance(data, str) else data
    return command + "\n@@stdin " + hashlib.sha256(data).hexdigest()[:16]


def _address(addr: str) -> "re.Pattern":
    """addr as a whole address: never the start of a longer one (10.200.0.4 in 10.200.0.42)."""
    return re.compile(rf"(?<![0-9A-Za-z.:]){re.escape(addr)}(?![0-9A-Za-z])")


def generic(text: str, name: str, addr: str | None) -> str:
    """text with the host's name and address (and any swarm token) as placeholders."""
    text = TOKEN.sub("@@SWARM-TOKEN@@", text)  # a recording is a file: never a join token in it
    text = text.replace(name, HOST)
    return _address(addr).sub(ADDR, text) if addr else text


def specific(text: str, name: str, addr: str | None) -> str:
    """The placeholders of generic() filled for this host."""
    text = text.replace(HOST, name)
    return text.replace(ADDR, addr) if addr else text


def _sink(host_name: str, sent: str) -> None:
    with open(os.environ[SINK_ENV], "a") as f:
        f.write(f"{host_name}\t{sent!r}\n")


def _count(host_name: str) -> None:
    if os.environ.get(COUNT_ENV):
        with open(os.environ[COUNT_ENV], "a") as f:
            f.write(host_name + "\n")


class RecordConnector(SSHConnector):
    """SSH, with every command and its answer kept for bench/recording/<role>.json."""

    @staticmethod
    def make_names_data(name=None):
        if not name:
            raise InventoryError("@dwrecord needs a host name: @dwrecord/lab1")
        yield name, {"ssh_hostname": name}, []

    def run_shell_command(self, command, print_output=False, print_input=False, **arguments):
        stdin = arguments.get("_stdin")
        raw = make_unix_command_for_host(self.state, self.host, command, **{
            k: v for k, v in arguments.items() if k not in ("_get_pty", "_timeout", "_stdin", "_success_exit_codes")
        }).get_raw_value()
        ok, output = super().run_shell_command(command, print_output, print_input, **arguments)
        name, addr = self.host.name, self.host.data.get("data_ip")
        entry = {"ok": ok, "lines": [[line.buffer_name, generic(line.line, name, addr)] for line in output]}
        role = _role(self.host)
        if role not in _recorded:  # a host asked outside --limit is never disconnected: save at exit
            atexit.register(save_recording, role, addr)
        _recorded.setdefault(role, {})[generic(_key(raw, stdin), name, addr)] = entry
        return ok, output

    def put_file(self, filename_or_io, remote_filename, *args, **kwargs):
        _recorded.setdefault(_role(self.host), {})[
            "@@put " + generic(str(remote_filename), self.host.name, self.host.data.get("data_ip"))] = {"ok": True}
        return super().put_file(filename_or_io, remote_filename, *args, **kwargs)

    def disconnect(self) -> None:
        save_recording(_role(self.host), self.host.data.get("data_ip"))
        super().disconnect()


def _role(host) -> str:
    """The recording a host's answers go to or come from: DOCKWRIGHT_REPLAY_AS prefixes the
    role, so a baseline's answers never overwrite dockwright's; a host's own replay_as (a
    faulty host of a simulated fleet: "fault-") comes first."""
    prefix = host.data.get("replay_as") or os.environ.get("DOCKWRIGHT_REPLAY_AS", "")
    return prefix + (host.data.get("replay_role") or host.name)


_recorded: dict[str, dict] = {}


def save_recording(role: str, data_ip: str | None) -> Path:
    """Merges this process's answers for role into bench/recording/<role>.json, with the
    recorded host's data address (other hosts' answers name it: a worker's managers)."""
    RECORDINGS.mkdir(exist_ok=True)
    path = RECORDINGS / f"{role}.json"
    old = json.loads(path.read_text())["commands"] if path.exists() else {}
    path.write_text(json.dumps({"recorded": time.time(), "data_ip": data_ip,
                                "commands": {**old, **_recorded.get(role, {})}}, indent=0, sort_keys=True) + "\n")
    return path


_loaded: dict[str, dict] = {}


def recording(role: str) -> dict:
    if role not in _loaded:
        path = RECORDINGS / f"{role}.json"
        if not path.exists():
            raise InventoryError(f"no recording for role {role!r} ({path}); run `make bench-record`")
        _loaded[role] = json.loads(path.read_text())
    return _loaded[role]


class ReplayConnector(BaseConnector):
    """A simulated host: answers each command from its role's recording after a fixed latency."""

    handles_execution = True

    @staticmethod
    def make_names_data(name=None):
        if not name:
            raise InventoryError("@dwreplay needs a host name: @dwreplay/sim-0001")
        yield name, {}, []

    def connect(self) -> None:
        if not self.host.data.get("replay_role"):
            raise InventoryError(f"{self.host.name}: simulated host without replay_role")
        self.latency = float(os.environ.get(LATENCY_ENV, "20")) / 1000
        if self.host.data.get("replay_fault") == "unreachable":
            from pyinfra.api.exceptions import ConnectError
            self._wait()
            raise ConnectError(f"{self.host.name}: simulated host is unreachable")
        self.commands = recording(_role(self.host))["commands"]

    def _wait(self) -> None:
        import gevent  # pyinfra runs hosts in greenlets: a sleeping host lets the others run
        gevent.sleep(self.latency)

    def run_shell_command(self, command, print_output=False, print_input=False, **arguments):
        stdin = arguments.pop("_stdin", None)
        for k in ("_get_pty", "_timeout", "_success_exit_codes"):
            arguments.pop(k, None)
        raw = make_unix_command_for_host(self.state, self.host, command, **arguments).get_raw_value()
        name, addr = self.host.name, self.host.data.get("data_ip")
        self._wait()
        _count(name)
        if os.environ.get(TRACE_ENV):
            with open(os.environ[TRACE_ENV], "a") as f:
                f.write(f"{name}\t{generic(raw, name, addr)!r}\n")
        entry = self.commands.get(generic(_key(raw, stdin), name, addr))
        if entry is None and os.environ.get(SINK_ENV):
            _sink(name, generic(_key(raw, stdin), name, addr))
            return True, CommandOutput([])
        if entry is None:
            lines = [OutputLine("stderr", f"dwreplay: no recording of this command for role "
                                          f"{_role(self.host)}: {raw[:300]}")]
            return False, CommandOutput(lines)
        lines = [OutputLine(buf, specific(text, name, addr)) for buf, text in entry["lines"]]
        return entry["ok"], CommandOutput(lines)

    def put_file(self, filename_or_io, remote_filename, remote_temp_filename=None, print_output=False,
                 print_input=False, **arguments):
        self._wait()
        _count(self.host.name)
        if os.environ.get(SINK_ENV):
            if hasattr(filename_or_io, "read"):
                data = filename_or_io.read()
                filename_or_io.seek(0)
            else:
                data = Path(filename_or_io).read_bytes()
            data = data.encode() if isinstance(data, str) else data
            _sink(self.host.name, f"@@put {remote_filename}\n" + data.decode(errors="backslashreplace"))
        return True

    def get_file(self, remote_filename, filename_or_io, remote_temp_filename=None, print_output=False,
                 print_input=False, **arguments):
        raise NotImplementedError("dwreplay hosts cannot send files")
