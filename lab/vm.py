"""Boots, watches and stops the lab VMs; every process it starts is tracked by a pid file."""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from . import config, image, testimage

SSH_OPTS = [
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
]


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


def _pid_alive(pidfile: Path, comm: str) -> int | None:
    """The pid in pidfile if that process is still ours (same command name), else None."""
    try:
        pid = int(pidfile.read_text().strip())
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid if name.startswith(comm) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- KVM or TCG --------------------------------------------------------------------------------

def accel(img: Path) -> list[str]:
    """KVM when a bounded trial boot gets past early kernel setup, else multi-threaded TCG."""
    cached = config.RUN_DIR / "accel"
    if cached.exists():
        choice = cached.read_text().strip()
    else:
        choice = "tcg"
        if os.access("/dev/kvm", os.R_OK | os.W_OK):
            # The kernel panics once it finds no init: reaching that message proves KVM runs it.
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
    print(f"lab: accelerator {choice}")
    return ["-enable-kvm", "-cpu", "host"] if choice == "kvm" else ["-accel", "tcg,thread=multi"]


# ---- processes ---------------------------------------------------------------------------------

def _start_switch() -> Path:
    sock = config.RUN_DIR / "vde.sock"
    pidfile = config.RUN_DIR / "vde.pid"
    if _pid_alive(pidfile, "vde_switch"):
        return sock
    shutil.rmtree(sock, ignore_errors=True)
    subprocess.run(["vde_switch", "-s", str(sock), "-d", "-p", str(pidfile)], check=True)
    return sock


def _start_vm(vm: config.VMSpec, img: Path, sock: Path, accel_args: list[str], state: dict) -> None:
    run = config.RUN_DIR
    disk = run / f"{vm.name}.qcow2"
    if not disk.exists():
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(img / "base.img"),
                        "-F", "raw", str(disk)], check=True)
    host = state["hosts"].get(vm.name) or {}
    port = host.get("port") or _free_port()
    pub = base64.b64encode(key_path().with_suffix(".pub").read_bytes().strip()).decode()
    last = vm.data_ip.split(".")[-1]
    cmdline = (f"console=ttyS0 root=/dev/vda rw net.ifnames=0 systemd.hostname={vm.name} "
               f"dw.name={vm.name} dw.ip={vm.data_ip}/24 dw.key={pub}")
    cmd = [
        "qemu-system-x86_64", "-name", vm.name, *accel_args,
        "-smp", str(config.CPUS), "-m", str(config.MEMORY_MB),
        "-display", "none", "-serial", f"file:{run / (vm.name + '.console')}",
        "-kernel", str(img / "vmlinuz"), "-initrd", str(img / "initrd.img"), "-append", cmdline,
        "-drive", f"file={disk},if=virtio,format=qcow2",
        # Management: SSH on host loopback only; restrict=on keeps the VM from reaching out.
        "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-device", "virtio-net-pci,netdev=n0",
        # Data plane: a private L2 segment between the VMs, no host interface involved.
        "-netdev", f"vde,id=n1,sock={sock}",
        "-device", f"virtio-net-pci,netdev=n1,mac=52:54:00:99:00:{int(last):02x}",
        "-daemonize", "-pidfile", str(run / f"{vm.name}.pid"),
    ]
    subprocess.run(cmd, check=True)
    state["hosts"][vm.name] = {
        "port": port, "data_ip": vm.data_ip, "groups": list(vm.groups),
    }


def up() -> None:
    img = image.build()
    config.RUN_DIR.mkdir(parents=True, exist_ok=True)
    if not key_path().exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dockwright-lab",
                        "-f", str(key_path())], check=True)
    state = load_state()
    state["key"] = str(key_path())
    start = time.monotonic()
    sock = _start_switch()
    accel_args = None
    started = []
    for vm in config.FLEET:
        if _pid_alive(config.RUN_DIR / f"{vm.name}.pid", "qemu"):
            print(f"lab: {vm.name} already running, reused")
            continue
        accel_args = accel_args or accel(img)
        _start_vm(vm, img, sock, accel_args, state)
        started.append(vm.name)
    save_state(state)
    for vm in config.FLEET:
        wait_ready(vm.name, start)
    for name in started:
        testimage.load(name)
    print(f"lab: fleet ready in {time.monotonic() - start:.0f} s "
          f"(started {', '.join(started) or 'none'})")


def wait_ready(name: str, start: float | None = None, timeout: int | None = None) -> None:
    """Waits until SSH answers and dockerd answers `docker info`."""
    start = start or time.monotonic()
    deadline = time.monotonic() + (timeout or config.BOOT_TIMEOUT)
    stage = "ssh"
    while time.monotonic() < deadline:
        if not _pid_alive(config.RUN_DIR / f"{name}.pid", "qemu"):
            raise SystemExit(f"lab: {name}'s qemu is not running (console: "
                             f"{config.RUN_DIR / (name + '.console')})")
        probe = "true" if stage == "ssh" else "docker info --format '{{.ServerVersion}}'"
        if run(name, probe, timeout=60, check=False).returncode == 0:
            print(f"lab: {name} {stage} ready after {time.monotonic() - start:.0f} s")
            if stage == "docker":
                return
            stage = "docker"
            continue
        time.sleep(3)
    raise SystemExit(f"lab: {name} not ready ({stage}) within {timeout or config.BOOT_TIMEOUT} s")


def _signal(pidfile: Path, comm: str, sig: int = signal.SIGTERM) -> int | None:
    pid = _pid_alive(pidfile, comm)
    if pid:
        os.kill(pid, sig)
    return pid


def _wait_gone(pidfile: Path, comm: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _pid_alive(pidfile, comm):
            return True
        time.sleep(0.5)
    return False


def stop(name: str) -> None:
    config.spec(name)
    pidfile = config.RUN_DIR / f"{name}.pid"
    if _signal(pidfile, "qemu"):
        if not _wait_gone(pidfile, "qemu", 20):
            _signal(pidfile, "qemu", signal.SIGKILL)
            _wait_gone(pidfile, "qemu", 10)
    pidfile.unlink(missing_ok=True)
    print(f"lab: {name} stopped")


def down() -> None:
    for vm in config.FLEET:
        stop(vm.name)
        for suffix in (".qcow2", ".console"):
            (config.RUN_DIR / f"{vm.name}{suffix}").unlink(missing_ok=True)
    vde_pid = config.RUN_DIR / "vde.pid"
    if _signal(vde_pid, "vde_switch"):
        _wait_gone(vde_pid, "vde_switch", 10)
    vde_pid.unlink(missing_ok=True)
    shutil.rmtree(config.RUN_DIR / "vde.sock", ignore_errors=True)
    state = load_state()
    state["hosts"] = {}
    save_state(state)
    print("lab: down")


def status() -> int:
    state = load_state()
    rc = 0
    for vm in config.FLEET:
        pid = _pid_alive(config.RUN_DIR / f"{vm.name}.pid", "qemu")
        host = state["hosts"].get(vm.name, {})
        print(f"{vm.name}: {'running pid ' + str(pid) if pid else 'stopped'}"
              f"  ssh 127.0.0.1:{host.get('port', '-')}  data {vm.data_ip}  "
              f"groups {','.join(vm.groups)}")
        rc = rc or (0 if pid else 1)
    return rc


# ---- SSH ---------------------------------------------------------------------------------------

def ssh_argv(name: str) -> list[str]:
    host = load_state()["hosts"].get(name)
    if not host:
        raise SystemExit(f"lab: {name} is not up (run: python -m lab up)")
    return ["ssh", *SSH_OPTS, "-i", str(key_path()), "-p", str(host["port"]), "root@127.0.0.1"]


def run(name: str, command: str, timeout: int = 300, check: bool = True,
        input: str | None = None) -> subprocess.CompletedProcess:
    """Runs one command string on a VM; returns the completed process (text output)."""
    try:
        res = subprocess.run([*ssh_argv(name), command], capture_output=True, text=True,
                             timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        res = subprocess.CompletedProcess([name, command], 255, "", "timeout")
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
    start = time.monotonic()
    before = run(name, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
    run(name, "systemctl reboot", check=False, timeout=30)
    deadline = time.monotonic() + config.BOOT_TIMEOUT
    while time.monotonic() < deadline:
        res = run(name, "cat /proc/sys/kernel/random/boot_id", check=False, timeout=30)
        if res.returncode == 0 and res.stdout.strip() != before:
            break
        time.sleep(3)
    else:
        raise SystemExit(f"lab: {name} did not come back from reboot")
    wait_ready(name, start)
    print(f"lab: {name} rebooted in {time.monotonic() - start:.0f} s")
