"""The lab's console monitor on real files and a real process standing in for qemu."""

import json
import subprocess
import sys
import time

import pytest

from lab import config, monitor, vm

PANIC = ("[ 1636.1] traps: PANIC: double fault, error_code: 0x0\n"
         "[ 1636.1] RIP: 0010:__ext4fs_dirhash+0x1a/0x3c0\n"
         "[ 1636.2] Kernel panic - not syncing: Fatal exception in interrupt\n")


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "RUN_DIR", tmp_path)
    monkeypatch.setattr(config, "STATE_FILE", tmp_path / "state.json")
    procs = []

    def start(name: str, ready: bool = True) -> subprocess.Popen:
        """A running "VM": a process named qemu-system-x86_64 with its pid file on its command
        line (what vm._pid_alive recognises), and a console file."""
        pidfile, console = tmp_path / f"{name}.pid", tmp_path / f"{name}.console"
        console.write_text("[    0.0] Linux version 6.12\n")
        p = subprocess.Popen(["bash", "-c", "exec -a qemu-system-x86_64 \"$0\" -c 'import time; time.sleep(60)' "
                              f'"{pidfile}"', sys.executable])
        procs.append(p)
        time.sleep(0.2)
        pidfile.write_text(f"{p.pid}\n")
        state = vm.load_state()
        state["hosts"][name] = {"ready_console": console.stat().st_ino if ready else None}
        vm.save_state(state)
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


def _wait(cond, limit: float = 5.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_a_panic_is_seen_within_seconds_and_the_dead_vm_is_stopped(run_dir):
    qemu = run_dir("lab2")
    seen = []
    with monitor.Monitor(poll=0.1, names=("lab2",)) as m:
        m.on_panic(seen.append)
        with open(config.RUN_DIR / "lab2.console", "a") as f:
            f.write(PANIC)
        assert _wait(lambda: seen)
        assert _wait(lambda: qemu.poll() is not None)  # killed: connections to it now fail at once
    p = seen[0]
    assert (p.vm, p.kind, p.expected) == ("lab2", "double fault", False)
    assert p.lines[0].endswith("traps: PANIC: double fault, error_code: 0x0")
    assert p.lines[1].endswith("RIP: 0010:__ext4fs_dirhash+0x1a/0x3c0")


def test_a_deliberate_crash_is_left_alone_and_a_boot_is_ups_business(run_dir):
    lab1, lab3 = run_dir("lab1"), run_dir("lab3", ready=False)
    with monitor.Monitor(poll=0.1, names=("lab1", "lab3")) as m:
        with m.expect("lab1"):
            for name in ("lab1", "lab3"):
                with open(config.RUN_DIR / f"{name}.console", "a") as f:
                    f.write(PANIC)
            assert _wait(lambda: m.since(0, expected=True))
            time.sleep(0.5)
        assert [p.vm for p in m.since(0, expected=True)] == ["lab1"]
        assert m.since(0) == []          # lab3 is still booting: `up` restarts it, not the monitor
    assert lab1.poll() is None and lab3.poll() is None


def test_a_vm_started_again_gets_a_new_console_read_from_its_start(run_dir):
    run_dir("lab2")
    with monitor.Monitor(poll=0.1, names=("lab2",), stop_dead=False) as m:
        console = config.RUN_DIR / "lab2.console"
        console.unlink()
        console.write_text("[ 0.0] booting again\n" + PANIC)  # a new file (new inode), shorter
        state = json.loads(config.STATE_FILE.read_text())
        state["hosts"]["lab2"]["ready_console"] = console.stat().st_ino
        config.STATE_FILE.write_text(json.dumps(state))
        assert _wait(lambda: m.since(0))


def test_watch_ends_the_command_on_a_panic_and_says_so(run_dir, capsys):
    run_dir("lab2")
    with open(config.RUN_DIR / "lab2.console", "a") as f:
        f.write("[ 1.0] ok\n")
    writer = subprocess.Popen(["bash", "-c", f"sleep 1; printf %s {json.dumps(PANIC)} >> "
                               f"{config.RUN_DIR / 'lab2.console'}"])
    start = time.monotonic()
    rc = monitor.watch_command(["--", "sleep", "60"])
    writer.wait()
    assert rc == monitor.FATAL_EXIT and time.monotonic() - start < 10
    assert "VM panic: lab2, double fault" in capsys.readouterr().out
