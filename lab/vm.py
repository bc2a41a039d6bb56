"""Boots, watches and stops the lab VMs; every process it starts is tracked by a pid file.

`up` converges from any state: VMs that run and answer are reused, dead or stale ones are
started again, and every VM ends answering SSH and `docker info`.
While it waits it watches each VM's serial console, so a kernel panic or oops is seen within
seconds and that VM is restarted (a bounded number of times), not waited on until a timeout.
"""

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from . import config, image

SSH_OPTS = [
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
]
# Seconds for the connection and the SSH banner. Three emulated VMs on two cores can take several
# seconds to show it; while a VM boots, the watch tries again often instead of waiting long.
CONNECT_TIMEOUT, BOOT_CONNECT_TIMEOUT = 60, 10

# Added to every guest kernel command line. The sched_clock-stable static key is flipped (code
# patched at run time) when the TSC is found stable at boot or unstable later; with the TSC
# unstable from the start it never flips. Kept with single-threaded TCG (see tcg_args) as a
# second guard: emulated TSCs do look unstable under load.
KERNEL_EXTRA = os.environ.get("DOCKWRIGHT_LAB_KERNEL_EXTRA", "tsc=unstable")
# qemu's -cpu for TCG (empty: qemu's default model); a candidate in the soak's comparisons.
CPU_MODEL = os.environ.get("DOCKWRIGHT_LAB_CPU_MODEL", "")

# Console lines that mean the guest kernel is dead or dying.
FATAL = re.compile(r"Kernel panic - not syncing|\bOops: |\bPANIC: |BUG: unable to handle|"
                   r"general protection fault|BUG: kernel NULL pointer")


def fatal_lines(text: str) -> list[str]:
    """The console lines that show a panic or oops, with the RIP line that names the place."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if FATAL.search(line) or (out and "RIP:" in line and i - lines.index(out[0]) < 20):
            out.append(line.strip())
    return out[:6]


class BootFailure(Exception):
    """One boot attempt failed; the message says why (with console lines when there are any)."""


# ---- state -------------------------------------------------------------------------------------

def load_state() -> dict:
    if config.STATE_FILE.exists():
        return json.loads(config.STATE_FILE.read_text())
    return {"hosts": {}}


def save_state(state: dict) -> None:
    config.RUN_DIR.mkdir(parents=True, exist_ok=True)
    tmp = config.STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(config.STATE_FILE)


def key_path() -> Path:
    return config.RUN_DIR / "id_ed25519"


def _claim_run_dir() -> None:
    """The run directory belongs to this checkout; refuse one that another checkout holds."""
    config.RUN_DIR.mkdir(parents=True, exist_ok=True)
    owner_file = config.RUN_DIR / "checkout"
    owner = owner_file.read_text().strip() if owner_file.exists() else None
    if owner and owner != str(config.REPO) and Path(owner).exists():
        raise SystemExit(f"lab: {config.RUN_DIR} holds the lab of the checkout {owner}; "
                         f"set DOCKWRIGHT_LAB_RUN to another directory for this one")
    owner_file.write_text(f"{config.REPO}\n")


def _pid_alive(pidfile: Path, program: str) -> int | None:
    """The pid in pidfile if that process is ours: the program named and started with this
    pidfile on its command line (a stale pid reused by another process does not count)."""
    try:
        pid = int(pidfile.read_text().strip())
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    ours = Path(argv[0].decode(errors="replace")).name == program and \
        str(pidfile).encode() in argv
    return pid if ours else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# ---- KVM or TCG --------------------------------------------------------------------------------

def tcg_args() -> list[str]:
    """Single-threaded TCG: every vCPU of a VM on one host thread, taking turns.

    Multi-threaded TCG (thread=multi) killed guest kernels here, at boot and after tens of
    minutes: an int3 oops in sched_clock_cpu right after the kernel patched its code while the
    other vCPU ran it, and a double fault in the slab allocator on a cmpxchg16b. Both are races
    between vCPUs that single-threaded TCG cannot have. Three VMs on two cores keep both cores
    busy either way. DOCKWRIGHT_LAB_TCG=multi brings the old mode back for measurements."""
    return ["-accel", f"tcg,thread={os.environ.get('DOCKWRIGHT_LAB_TCG', 'single')}"]


def accel(img: Path) -> list[str]:
    """KVM when a bounded trial boot gets past early kernel setup, else TCG (tcg_args)."""
    cached = config.RUN_DIR / "accel"
    if cached.exists():
        choice = cached.read_text().strip()
    else:
        choice = "tcg"
        if os.access("/dev/kvm", os.R_OK | os.W_OK):
            # The kernel panics once it finds no root: reaching that message proves KVM runs it.
            trial = ["qemu-system-x86_64", "-enable-kvm", "-m", "256", "-display", "none",
                     "-serial", "stdio", "-no-reboot", "-kernel", str(img / "vmlinuz"),
                     "-append", "console=ttyS0 panic=-1 rdinit=/nonexistent root=/dev/null"]
            try:
                out = subprocess.run(trial, capture_output=True, text=True, timeout=30).stdout
            except subprocess.TimeoutExpired as e:
                out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            if "Kernel panic" in out or "Run /" in out:
                choice = "kvm"
        config.RUN_DIR.mkdir(parents=True, exist_ok=True)
        cached.write_text(choice + "\n")
    if choice == "kvm":
        return ["-enable-kvm", "-cpu", "host"]
    return tcg_args() + (["-cpu", CPU_MODEL] if CPU_MODEL else [])


# ---- processes ---------------------------------------------------------------------------------

def switch_paths() -> tuple[Path, Path]:
    return config.RUN_DIR / "vde.sock", config.RUN_DIR / "vde.pid"


def _start_switch() -> bool:
    """Starts the data-plane switch unless ours runs; True when it was (re)started."""
    sock, pidfile = switch_paths()
    if _pid_alive(pidfile, "vde_switch"):
        return False
    shutil.rmtree(sock, ignore_errors=True)
    pidfile.unlink(missing_ok=True)
    subprocess.run(["vde_switch", "-s", str(sock), "-d", "-p", str(pidfile)], check=True)
    return True


def _paths(name: str) -> dict[str, Path]:
    run = config.RUN_DIR
    return {"pid": run / f"{name}.pid", "disk": run / f"{name}.qcow2",
            "console": run / f"{name}.console"}


def _start_vm(vm: config.VMSpec, img: Path, accel_args: list[str], state: dict) -> None:
    p = _paths(vm.name)
    host = state["hosts"].get(vm.name) or {}
    if host.get("image") != str(img):
        p["disk"].unlink(missing_ok=True)  # made from another image (or none): start clean
    if not p["disk"].exists():
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(img / "base.img"),
                        "-F", "raw", str(p["disk"])], check=True)
    port = host.get("port")
    if not port or not _port_free(port):
        port = _free_port()
    pub = base64.b64encode(key_path().with_suffix(".pub").read_bytes().strip()).decode()
    last = vm.data_ip.split(".")[-1]
    cmdline = (f"console=ttyS0 root=/dev/vda rw net.ifnames=0 systemd.hostname={vm.name} "
               f"{KERNEL_EXTRA} dw.name={vm.name} dw.ip={vm.data_ip}/24 dw.key={pub}")
    sock, _ = switch_paths()
    p["console"].unlink(missing_ok=True)
    cmd = [
        "qemu-system-x86_64", "-name", vm.name, *accel_args,
        "-smp", str(config.CPUS), "-m", str(config.MEMORY_MB),
        "-display", "none", "-serial", f"file:{p['console']}",
        "-kernel", str(img / "vmlinuz"), "-initrd", str(img / "initrd.img"), "-append", cmdline,
        "-drive", f"file={p['disk']},if=virtio,format=qcow2",
        # Management: SSH on host loopback only; restrict=on keeps the VM from reaching out.
        "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-device", "virtio-net-pci,netdev=n0",
        # Data plane: a private L2 segment between the VMs, no host interface involved.
        "-netdev", f"vde,id=n1,sock={sock}",
        "-device", f"virtio-net-pci,netdev=n1,mac=52:54:00:99:00:{int(last):02x}",
        "-daemonize", "-pidfile", str(p["pid"]),
    ]
    subprocess.run(cmd, check=True)
    state["hosts"][vm.name] = {"port": port, "data_ip": vm.data_ip, "groups": list(vm.groups),
                               "suite": vm.suite, "image": str(img)}


def _kill(name: str) -> None:
    pidfile = _paths(name)["pid"]
    if _signal(pidfile, "qemu-system-x86_64"):
        if not _wait_gone(pidfile, "qemu-system-x86_64", 20):
            _signal(pidfile, "qemu-system-x86_64", signal.SIGKILL)
            _wait_gone(pidfile, "qemu-system-x86_64", 10)
    pidfile.unlink(missing_ok=True)


# ---- watching a boot ---------------------------------------------------------------------------

class Watch:
    """Follows one VM towards ready: qemu alive, console free of panics, stages advancing.

    Stages: ssh (sshd answers), docker (`docker info` answers)."""

    def __init__(self, name: str, since: float, console_offset: int = 0):
        self.name = name
        self.since = since
        self.stage = "boot"
        self.offset = console_offset
        self.attempt_start = time.monotonic()
        self.last_progress = time.monotonic()
        self.tail = ""

    def _console(self) -> None:
        path = _paths(self.name)["console"]
        try:
            with open(path, "rb") as f:
                f.seek(self.offset)
                new = f.read()
        except OSError:
            return
        if new:
            self.offset += len(new)
            self.last_progress = time.monotonic()
            self.tail = (self.tail + new.decode(errors="replace"))[-20000:]
            bad = fatal_lines(self.tail)
            if bad:
                raise BootFailure("kernel panic/oops on the console:\n      " + "\n      ".join(bad))

    def check(self) -> None:
        """Raises BootFailure when the VM is dead, panicked or stalled."""
        if not _pid_alive(_paths(self.name)["pid"], "qemu-system-x86_64"):
            raise BootFailure("qemu exited; console ends:\n      " +
                              "\n      ".join(self.tail.strip().splitlines()[-5:]))
        self._console()
        idle = time.monotonic() - self.last_progress
        if idle > config.STALL_TIMEOUT:
            raise BootFailure(f"no console output and no progress for {idle:.0f} s at stage "
                              f"{self.stage}; console ends:\n      " +
                              "\n      ".join(self.tail.strip().splitlines()[-5:]))
        if time.monotonic() - self.attempt_start > config.BOOT_TIMEOUT:
            raise BootFailure(f"not ready within {config.BOOT_TIMEOUT} s (stage {self.stage})")

    def advance(self, stage: str) -> None:
        self.stage = stage
        self.last_progress = time.monotonic()

    def probe(self, command: str, timeout: int) -> subprocess.CompletedProcess:
        """Runs command over SSH while watching the console every second."""
        proc = subprocess.Popen([*ssh_argv(self.name, BOOT_CONNECT_TIMEOUT), command], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    out, err = proc.communicate(timeout=1)
                    return subprocess.CompletedProcess(command, proc.returncode, out, err)
                except subprocess.TimeoutExpired:
                    self.check()
                    if time.monotonic() > deadline:
                        return subprocess.CompletedProcess(command, 255, "", "timeout")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def until(self, stage: str, command: str, timeout: int = 60) -> None:
        self.advance(stage)
        while True:
            self.check()
            if self.probe(command, timeout).returncode == 0:
                _say(f"{self.name} {stage} ready after {time.monotonic() - self.since:.0f} s")
                return
            time.sleep(2)


DOCKER_READY = "docker info --format '{{.ServerVersion}}' >/dev/null"


def _bring_up(vm: config.VMSpec, img: Path, accel_args: list[str], state: dict,
              lock: threading.Lock, watches: dict, since: float, fresh: bool) -> None:
    """Starts (if needed) and watches one VM until ready, restarting it after a failed boot."""
    for attempt in range(1, config.BOOT_ATTEMPTS + 1):
        if fresh or not _pid_alive(_paths(vm.name)["pid"], "qemu-system-x86_64"):
            _kill(vm.name)
            with lock:
                _start_vm(vm, img, accel_args, state)
                save_state(state)
            _say(f"{vm.name} started (attempt {attempt}/{config.BOOT_ATTEMPTS})")
            w = Watch(vm.name, since)
        else:
            # Reused: the whole console counts (a panic while it ran makes it unusable).
            w = Watch(vm.name, since)
        watches[vm.name] = w
        try:
            w.check()
            w.until("ssh", "true")
            w.until("docker", DOCKER_READY)
            w.advance("ready")
            with lock:  # from now on a panic is the console monitor's (lab.monitor), not the boot's
                state["hosts"][vm.name]["ready_console"] = console_inode(vm.name)
                save_state(state)
            return
        except BootFailure as e:
            w.stage = "failed"
            _say(f"{vm.name} boot attempt {attempt}/{config.BOOT_ATTEMPTS} failed at "
                 f"{time.monotonic() - since:.0f} s: {e}")
            with lock:
                state.setdefault("boot_failures", []).append(
                    {"vm": vm.name, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), "why": str(e)[:2000]})
                save_state(state)
            fresh = True
    raise BootFailure(f"{vm.name} failed to boot {config.BOOT_ATTEMPTS} times; "
                      f"console: {_paths(vm.name)['console']}")


_print_lock = threading.Lock()


def _say(msg: str) -> None:
    with _print_lock:
        print(f"lab: {msg}", flush=True)


def _converge(vms: list[config.VMSpec], state: dict, fresh: set[str], start: float) -> None:
    """Brings every VM in vms to ready in parallel, printing progress at least every 20 s."""
    accel_cache: dict[str, list[str]] = {}
    lock = threading.Lock()
    watches: dict[str, Watch] = {}
    errors: dict[str, str] = {}

    def worker(vm: config.VMSpec) -> None:
        try:
            img = image.build(vm.suite, quiet=True)
            with lock:
                if "args" not in accel_cache:
                    accel_cache["args"] = accel(img)
                    _say("accelerator " + ("kvm" if "-enable-kvm" in accel_cache["args"] else
                                           "tcg (software emulation: boots take minutes)"))
            _bring_up(vm, img, accel_cache["args"], state, lock, watches, start, vm.name in fresh)
        except BaseException as e:  # noqa: BLE001 - any failure of a VM must fail `up`, named
            errors[vm.name] = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=worker, args=(vm,), daemon=True) for vm in vms]
    for t in threads:
        t.start()
    last = time.monotonic()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=1)
        if time.monotonic() - last >= 20:
            last = time.monotonic()
            parts = []
            for vm in vms:
                w = watches.get(vm.name)
                parts.append(f"{vm.name} {w.stage if w else 'starting'}"
                             + (f" (console {w.offset // 1024} KiB)" if w and w.stage in ("boot", "ssh") else ""))
            _say(f"waiting, {time.monotonic() - start:.0f} s: " + ", ".join(parts))
    if errors:
        raise SystemExit("lab: not ready:\n" + "\n".join(f"  {n}: {e}" for n, e in sorted(errors.items())))


def up() -> None:
    start = time.monotonic()
    _claim_run_dir()
    for suite in sorted({vm.suite for vm in config.FLEET}):
        image.build(suite)
    if not key_path().exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dockwright-lab",
                        "-f", str(key_path())], check=True)
    state = load_state()
    state["key"] = str(key_path())
    # A new switch means the running VMs' data NICs point at a dead socket: start them afresh.
    switch_new = _start_switch()
    fresh = {vm.name for vm in config.FLEET} if switch_new else set()
    for vm in config.FLEET:
        running = _pid_alive(_paths(vm.name)["pid"], "qemu-system-x86_64")
        if running and vm.name not in fresh and state["hosts"].get(vm.name, {}).get("image") == \
                str(image.image_dir(vm.suite)):
            _say(f"{vm.name} running (pid {running}), checking it")
        else:
            fresh.add(vm.name)
    save_state(state)
    _converge(list(config.FLEET), state, fresh, start)
    failures = [f for f in load_state().get("boot_failures", [])]
    _say(f"fleet ready in {time.monotonic() - start:.0f} s "
         f"(started {', '.join(sorted(fresh)) or 'none'}; boot failures recorded so far: {len(failures)})")
    for vm in config.FLEET:  # what this run stands on, read from each VM (a sid upload shows here)
        _say(f"{vm.name} ({vm.suite}): {versions(vm.name)}")


VERSIONS = ("uname -r; dpkg-query -W -f '${Package} ${Version}\\n' docker.io containerd runc apparmor iptables "
            "2>/dev/null; true")


def versions(name: str) -> str:
    """The kernel and the engine's packages a VM runs, in one line."""
    res = run(name, VERSIONS, timeout=120, check=False)
    lines = res.stdout.split("\n") if res.returncode == 0 else []
    return ", ".join(x.strip() for x in lines if x.strip()) or f"unread ({res.stderr.strip()[:80]})"


def _signal(pidfile: Path, program: str, sig: int = signal.SIGTERM) -> int | None:
    pid = _pid_alive(pidfile, program)
    if pid:
        os.kill(pid, sig)
    return pid


def _wait_gone(pidfile: Path, program: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _pid_alive(pidfile, program):
            return True
        time.sleep(0.5)
    return False


def stop(name: str) -> None:
    config.spec(name)
    _kill(name)
    print(f"lab: {name} stopped")


@contextlib.contextmanager
def frozen(name: str):
    """The VM's qemu stopped (SIGSTOP) for the block, then resumed: a host that is there but
    does not answer (its SSH port accepts, nothing replies), as a hung or unreachable machine
    looks, and back in a moment without a boot."""
    pidfile = _paths(name)["pid"]
    if not _signal(pidfile, "qemu-system-x86_64", signal.SIGSTOP):
        raise SystemExit(f"lab: {name} is not running")
    print(f"lab: {name} frozen")
    try:
        yield
    finally:
        _signal(pidfile, "qemu-system-x86_64", signal.SIGCONT)
        print(f"lab: {name} resumed")


def down() -> None:
    for vm in config.FLEET:
        stop(vm.name)
        for suffix in (".qcow2", ".console"):
            (config.RUN_DIR / f"{vm.name}{suffix}").unlink(missing_ok=True)
    sock, vde_pid = switch_paths()
    if _signal(vde_pid, "vde_switch"):
        _wait_gone(vde_pid, "vde_switch", 10)
    vde_pid.unlink(missing_ok=True)
    shutil.rmtree(sock, ignore_errors=True)
    state = load_state()
    state["hosts"] = {}
    save_state(state)
    print("lab: down")


def status() -> int:
    state = load_state()
    rc = 0
    print(f"lab of {config.REPO} in {config.RUN_DIR}")
    for vm in config.FLEET:
        pid = _pid_alive(_paths(vm.name)["pid"], "qemu-system-x86_64")
        host = state["hosts"].get(vm.name, {})
        print(f"{vm.name}: {'running pid ' + str(pid) if pid else 'stopped'}"
              f"  ssh 127.0.0.1:{host.get('port', '-')}  data {vm.data_ip}  {vm.suite}  "
              f"groups {','.join(vm.groups)}")
        rc = rc or (0 if pid else 1)
    print(f"boot failures recorded: {len(state.get('boot_failures', []))}")
    return rc


# ---- SSH ---------------------------------------------------------------------------------------

def ssh_argv(name: str, connect_timeout: int = CONNECT_TIMEOUT) -> list[str]:
    host = load_state()["hosts"].get(name)
    if not host:
        raise SystemExit(f"lab: {name} is not up (run: python -m lab up)")
    return ["ssh", *SSH_OPTS, "-o", f"ConnectTimeout={connect_timeout}", "-i", str(key_path()),
            "-p", str(host["port"]), "root@127.0.0.1"]


def console_inode(name: str) -> int | None:
    try:
        return _paths(name)["console"].stat().st_ino
    except OSError:
        return None


def console_fatal(name: str) -> list[str]:
    """Panic/oops lines on a VM's console, if its kernel died."""
    try:
        return fatal_lines(_paths(name)["console"].read_text(errors="replace")[-200000:])
    except OSError:
        return []


def run(name: str, command: str, timeout: int = 300, check: bool = True,
        input: str | None = None) -> subprocess.CompletedProcess:
    """Runs one command string on a VM; returns the completed process (text output). When SSH
    itself fails and the VM's kernel has died, says so at once instead of timing out later."""
    try:
        res = subprocess.run([*ssh_argv(name), command], capture_output=True, text=True,
                             timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        res = subprocess.CompletedProcess([name, command], 255, "", "timeout")
    if res.returncode == 255 and console_fatal(name):
        raise RuntimeError(f"{name}: the VM's kernel died (python -m lab up restarts it):\n  "
                           + "\n  ".join(console_fatal(name)))
    if check and res.returncode != 0:
        raise RuntimeError(f"{name}: {command!r} exited {res.returncode}: {res.stderr.strip()}")
    return res


def ssh(name: str, command: str | None) -> int:
    argv = ssh_argv(name)
    if command is None:
        argv.insert(1, "-t")
        return subprocess.call(argv)
    return subprocess.call([*argv, command])


def reboot(name: str) -> None:
    """Reboots a VM inside qemu and waits, watching its console, until it is ready again; a
    reboot that panics or stalls is recovered like a failed boot."""
    vm = config.spec(name)
    start = time.monotonic()
    before = run(name, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
    offset = _paths(name)["console"].stat().st_size
    run(name, "systemctl reboot", check=False, timeout=30)
    w = Watch(name, start, console_offset=offset)
    try:
        w.until("reboot", f"[ \"$(cat /proc/sys/kernel/random/boot_id)\" != {before} ]", timeout=30)
    except BootFailure as e:
        _say(f"{name} reboot failed: {e}; starting it again")
        state = load_state()
        state.setdefault("boot_failures", []).append(
            {"vm": name, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), "why": str(e)[:2000]})
        save_state(state)
        _converge([vm], state, {name}, start)
        return
    state = load_state()
    _converge([vm], state, set(), start)
    print(f"lab: {name} rebooted in {time.monotonic() - start:.0f} s")
