"""Watches every lab VM's serial console while the lab is in use, not only while it boots.

A guest kernel that panics under emulation leaves qemu running and its SSH port open: whatever
talks to it waits for its own timeout, minutes later, and then fails as something else. The
monitor reads each console about once a second. On a panic or oops it records the VM and the
console lines, and stops that VM's qemu at once, so every connection to it fails in a second
instead of waiting (``python -m lab up`` starts it again). Callbacks (the e2e suite ends the
running scenario's processes) run after that.

A test that crashes a VM on purpose says so first (``expect(name)``): that VM is then left as it
is, for the test to observe, and its panic is not reported.

    with Monitor() as m:      # or python -m lab watch -- COMMAND...
        ...
        m.since(mark)         # panics seen since m.mark()
"""

import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass, field

from . import config, vm

# A short name for each kind of fatal line, for reports ("re-run after a VM panic (lab2, double fault)").
KINDS = (("double fault", "double fault"), ("general protection fault", "general protection fault"),
         ("unable to handle", "bad paging request"), ("NULL pointer", "NULL pointer"),
         ("int3", "int3 oops"), ("Oops", "oops"), ("sysrq", "sysrq crash"), ("Kernel panic", "kernel panic"))


def kind_of(lines: list[str]) -> str:
    text = "\n".join(lines)
    for needle, name in KINDS:
        if needle in text:
            return name
    return "panic"


@dataclass
class Panic:
    vm: str
    lines: list[str]
    seen: float                 # time.monotonic() when the monitor saw it
    kind: str = ""
    expected: bool = False
    serial: int = 0

    def __str__(self) -> str:
        return f"{self.vm}, {self.kind}"


@dataclass
class _Console:
    offset: int = 0
    inode: int | None = None
    tail: str = ""
    reported: bool = False


@dataclass
class Monitor:
    poll: float = 1.0
    stop_dead: bool = True          # stop a panicked VM's qemu (connections to it then fail at once)
    names: tuple = tuple(v.name for v in config.FLEET)
    panics: list[Panic] = field(default_factory=list)
    _consoles: dict = field(default_factory=dict)
    _expected: set = field(default_factory=set)
    _callbacks: list = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- use
    def start(self) -> "Monitor":
        for name in self.names:  # what is on the consoles already is `up`'s business
            self._consoles[name] = self._fresh(name, at_end=True)
        self._thread = threading.Thread(target=self._loop, name="lab-console-monitor", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "Monitor":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def on_panic(self, callback) -> None:
        """callback(panic) runs in the monitor's thread after the dead VM was stopped."""
        self._callbacks.append(callback)

    def mark(self) -> int:
        return len(self.panics)

    def since(self, mark: int, expected: bool = False) -> list[Panic]:
        with self._lock:
            return [p for p in self.panics[mark:] if p.expected == expected]

    @contextlib.contextmanager
    def expect(self, name: str):
        """A crash of name inside this block is deliberate: not stopped, not reported."""
        self._expected.add(name)
        try:
            yield
        finally:
            self._expected.discard(name)

    def check(self) -> None:
        """One pass over every console (the thread calls it each `poll` seconds)."""
        for name in self.names:
            found = self._read(name)
            if found:
                self._handle(name, found)

    # ---- inside
    def _fresh(self, name: str, at_end: bool = False) -> _Console:
        path = vm._paths(name)["console"]
        try:
            st = os.stat(path)
        except OSError:
            return _Console()
        return _Console(offset=st.st_size if at_end else 0, inode=st.st_ino)

    def _read(self, name: str) -> list[str]:
        path = vm._paths(name)["console"]
        c = self._consoles.setdefault(name, _Console())
        try:
            st = os.stat(path)
        except OSError:
            return []
        if st.st_ino != c.inode or st.st_size < c.offset:  # the VM was started again: a new console
            c = self._consoles[name] = _Console(inode=st.st_ino)
        if st.st_size == c.offset:
            return []
        with open(path, "rb") as f:
            f.seek(c.offset)
            new = f.read()
        c.offset += len(new)
        c.tail = (c.tail + new.decode(errors="replace"))[-20000:]
        if c.reported:
            return []
        bad = vm.fatal_lines(c.tail)
        if bad:
            c.reported = True
        return bad

    def _handle(self, name: str, lines: list[str]) -> None:
        if vm.load_state()["hosts"].get(name, {}).get("ready_console") != self._consoles[name].inode:
            return  # still booting: `up` watches it, restarts it and says so
        expected = name in self._expected
        with self._lock:
            p = Panic(name, lines, time.monotonic(), kind_of(lines), expected, len(self.panics) + 1)
            self.panics.append(p)
        if expected:
            return
        print(f"lab monitor: {name}: kernel {p.kind} on the console:\n      " + "\n      ".join(lines),
              flush=True)
        if self.stop_dead:
            pid = vm._pid_alive(vm._paths(name)["pid"], "qemu-system-x86_64")
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                print(f"lab monitor: {name}: stopped its qemu (pid {pid}); `python -m lab up` starts it again",
                      flush=True)
        for cb in list(self._callbacks):
            try:
                cb(p)
            except Exception as e:  # noqa: BLE001 - a failing callback must not stop the watch
                print(f"lab monitor: callback failed: {e}", flush=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            self.check()


FATAL_EXIT = 3  # `python -m lab watch` when a VM panicked while the command ran


def watch_command(argv: list[str]) -> int:
    """Runs argv while watching the consoles. On a VM panic the command is ended (its process
    group) and the exit code is FATAL_EXIT, naming the VM; else the command's own."""
    import subprocess
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise SystemExit("usage: python -m lab watch -- COMMAND [ARG...]")
    proc = subprocess.Popen(argv, start_new_session=True)

    def end(panic: Panic) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)

    with Monitor() as m:
        m.on_panic(end)
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            rc = proc.wait()
        panics = m.since(0)
    if panics:
        print("lab watch: the command was ended: VM panic: " + "; ".join(map(str, panics)), flush=True)
        return FATAL_EXIT
    return rc

