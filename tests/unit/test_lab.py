"""The lab's watcher and process checks, on stand-in processes (no VM needed)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import config, vm

OOPS = """[    6.120000] sched_clock: Marking stable (6100000000, 20000)->(6120000000, -1000)
[    6.130000] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI
[    6.130001] CPU: 1 UID: 0 PID: 1 Comm: swapper/0
[    6.130002] RIP: 0010:sched_clock_cpu+0x9/0x1d0
[    6.140000] Kernel panic - not syncing: Fatal exception in interrupt
"""


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "RUN_DIR", tmp_path)
    return tmp_path


def fake_qemu(run_dir, name="lab1"):
    """A process whose argv looks like our qemu's: program name and its pidfile."""
    exe = run_dir / "qemu-system-x86_64"
    if not exe.exists():
        exe.symlink_to(sys.executable)
    pidfile = run_dir / f"{name}.pid"
    proc = subprocess.Popen([str(exe), "-c", "import time; time.sleep(60)", "-pidfile", str(pidfile)])
    pidfile.write_text(f"{proc.pid}\n")
    for _ in range(200):  # until the child has exec'd (before that, /proc shows the parent's argv)
        if str(pidfile).encode() in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            break
        time.sleep(0.01)
    return proc, pidfile


def test_fatal_lines_pick_the_oops_the_place_and_the_panic():
    lines = vm.fatal_lines(OOPS)
    assert lines[0].endswith("Oops: int3: 0000 [#1] PREEMPT SMP NOPTI")
    assert any("RIP: 0010:sched_clock_cpu" in x for x in lines) and "Kernel panic" in lines[-1]
    assert vm.fatal_lines("[ 1.0] systemd[1]: Started ssh.service\n") == []


def test_pid_check_wants_our_program_and_our_pidfile(run_dir):
    proc, pidfile = fake_qemu(run_dir)
    try:
        assert vm._pid_alive(pidfile, "qemu-system-x86_64") == proc.pid
        assert vm._pid_alive(pidfile, "qemu-system-x86") is None  # a name prefix is not enough
        other = run_dir / "other.pid"
        other.write_text(f"{proc.pid}\n")  # the same pid, recorded by another checkout
        assert vm._pid_alive(other, "qemu-system-x86_64") is None
    finally:
        proc.kill()
        proc.wait()
    assert vm._pid_alive(pidfile, "qemu-system-x86_64") is None  # stale after a reboot


def test_a_panic_on_the_console_is_seen_within_seconds(run_dir):
    proc, _ = fake_qemu(run_dir)
    try:
        w = vm.Watch("lab1", time.monotonic())
        w.check()  # alive, nothing on the console yet
        (run_dir / "lab1.console").write_text("booting\n" + OOPS)
        start = time.monotonic()
        with pytest.raises(vm.BootFailure, match="kernel panic/oops") as err:
            w.check()
        assert time.monotonic() - start < 10 and "sched_clock_cpu" in str(err.value)
    finally:
        proc.kill()
        proc.wait()


def test_no_progress_is_a_failure_and_a_dead_qemu_too(run_dir, monkeypatch):
    proc, _ = fake_qemu(run_dir)
    monkeypatch.setattr(config, "STALL_TIMEOUT", 0.2)
    w = vm.Watch("lab1", time.monotonic())
    time.sleep(0.4)
    with pytest.raises(vm.BootFailure, match="no console output and no progress"):
        w.check()
    proc.kill()
    proc.wait()
    with pytest.raises(vm.BootFailure, match="qemu exited"):
        vm.Watch("lab1", time.monotonic()).check()


def test_a_run_dir_held_by_another_checkout_is_refused(run_dir, tmp_path_factory):
    other = tmp_path_factory.mktemp("other-checkout")
    (run_dir / "checkout").write_text(f"{other}\n")
    with pytest.raises(SystemExit, match=f"holds the lab of the checkout {other}"):
        vm._claim_run_dir()


def test_each_checkout_has_its_own_run_dir():
    chosen = os.environ.get("DOCKWRIGHT_LAB_RUN")  # a run dir named by hand wins
    assert config.RUN_DIR == (Path(chosen) if chosen else config.CACHE_DIR / "run" / config.CHECKOUT_ID)


def test_the_peer_fetches_a_body_from_its_source_address_and_names_a_refusal():
    import socket
    import threading

    from lab import peer
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    seen = []

    def answer():
        conn, addr = server.accept()
        seen.append(addr[0])
        conn.recv(1024)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n")
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    assert peer.fetch("127.0.0.1", port, source="127.0.0.2") == "hello"
    assert seen == ["127.0.0.2"]  # the source asked for, not the default one
    server.close()
    assert peer.fetch("127.0.0.1", port, source="127.0.0.1") == "refused"
    assert len(peer.TAP) <= 15  # an interface name the kernel takes
