"""The verification probe: built here with zig for each architecture, packed as a one-file image,
and (on this x86_64 controller) run for real: its answers are what the behavioural checks judge."""

import bz2
import io
import platform
import socket
import subprocess
import tarfile
import time

import pytest

from dockwright import probe
from dockwright.verify import snapshot

ELF_MACHINE = {"x86_64": 62, "aarch64": 183}


def _segment_types(elf: bytes) -> list[int]:
    """p_type of each program header of a little-endian ELF64."""
    phoff, phentsize, phnum = (int.from_bytes(elf[a:b], "little") for a, b in ((32, 40), (54, 56), (56, 58)))
    return [int.from_bytes(elf[phoff + i * phentsize:phoff + i * phentsize + 4], "little") for i in range(phnum)]


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_each_architecture_gets_a_static_probe_in_a_one_file_image(arch):
    tar = tarfile.open(fileobj=io.BytesIO(bz2.decompress(probe.archive(arch))))
    members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == ["dev", "dwprobe", "etc", "proc", "sys", "tmp"]
    binary = tar.extractfile("dwprobe").read()
    assert members["dwprobe"].mode == 0o755 and members["dwprobe"].uid == 0
    assert binary[:4] == b"\x7fELF" and int.from_bytes(binary[18:20], "little") == ELF_MACHINE[arch]
    assert 3 not in _segment_types(binary)  # no PT_INTERP: static, no loader needed on the host


def test_the_image_is_named_by_its_content_and_rebuilt_identically(monkeypatch):
    assert probe.archive("x86_64") == probe.archive("x86_64")
    # The name is the root filesystem's, not the compressed bytes': another compressor (another
    # zlib, say) on another controller names the same probe alike.
    ref = probe.image("x86_64")
    probe.archive.cache_clear()
    monkeypatch.setattr(probe.bz2, "compress", lambda data, compresslevel=9: b"other bytes" + data)
    assert probe.image("x86_64") == ref and probe.archive("x86_64").startswith(b"other bytes")
    probe.archive.cache_clear()
    monkeypatch.undo()
    assert probe.image("x86_64") != probe.image("aarch64")
    assert probe.image("arm64") == probe.image("aarch64")
    with pytest.raises(RuntimeError, match="no probe build for architecture 'riscv64'"):
        probe.image("riscv64")


def test_the_host_says_its_architecture_and_which_probe_images_it_has():
    ref = probe.image("x86_64")
    assert probe.present(f"x86_64\n{ref}\n") == (ref, True)
    assert probe.present("x86_64\ndockwright-probe:0000000000000000\n") == (ref, False)
    assert probe.present("x86_64\n") == (ref, False)
    with pytest.raises(RuntimeError):
        probe.present("")


def test_the_import_fits_one_command_and_runs_only_when_missing():
    cmd = probe.ensure_command("x86_64")
    assert len(cmd) < 128 * 1024  # one argument of a remote command (MAX_ARG_STRLEN)
    ref = probe.image("x86_64")
    assert cmd.startswith(f"docker image inspect {ref} >/dev/null 2>&1 || ")
    assert "docker import -m dockwright-probe -c 'ENTRYPOINT [\"/dwprobe\"]' - " + ref in cmd
    assert cmd.endswith(f"docker image inspect {ref} >/dev/null")
    # After the state read showed it missing: the import alone, and the older images removed.
    cmd = probe.import_command(f"x86_64\ndockwright-probe:0000000000000000\n{probe.image('aarch64')}\n")
    assert cmd.startswith("echo ") and "docker image inspect" not in cmd
    assert cmd.endswith(f"docker rmi dockwright-probe:0000000000000000 {probe.image('aarch64')} >/dev/null 2>&1; true; }}")
    assert not probe.import_command("x86_64\n").endswith("}")


@pytest.fixture
def local_probe(tmp_path):
    if platform.machine() != "x86_64":
        pytest.skip("runs the x86_64 build")
    path = tmp_path / "dwprobe"
    path.write_bytes(probe.binary("x86_64"))
    path.chmod(0o755)
    return str(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_probe_answers_each_step_in_order(local_probe):
    port, closed = _free_port(), _free_port()
    server = subprocess.Popen([local_probe, "serve", str(port)])
    try:
        time.sleep(0.3)
        steps = ["socket:inet", "socket:unix", "sysctl:net.core.somaxconn", "sysctl:net.no.such.key", "nnp",
                 "nofile", "resolve:localhost", f"fetch:127.0.0.1:{port}", f"fetch:127.0.0.1:{closed}:1",
                 "read:/no/such/file", "getifaddrs", "frobnicate"]
        out = subprocess.run([local_probe, *steps], capture_output=True, text=True, check=True).stdout
    finally:
        server.terminate()
        server.wait(5)
    assert [line.split("=", 1)[0] for line in out.splitlines()] == steps
    got = snapshot.key_values(out)
    with open("/proc/sys/net/core/somaxconn") as f:
        somaxconn = f.read().strip()
    assert got["socket:inet"] == got["socket:unix"] == got["getifaddrs"] == "ok"
    assert got["sysctl:net.core.somaxconn"] == somaxconn and got["sysctl:net.no.such.key"] == "MISSING"
    assert got["nnp"] == "0" and len(got["nofile"].split()) == 2
    assert got["resolve:localhost"] == "127.0.0.1"
    assert got[f"fetch:127.0.0.1:{port}"] == "hello" and got[f"fetch:127.0.0.1:{closed}:1"] == "ECONNREFUSED"
    assert got["read:/no/such/file"] == "ENOENT" and got["frobnicate"] == "unknown-step"
    assert server.returncode == 0  # SIGTERM ends it (as a container's PID 1 it would be ignored)


def test_the_server_answers_while_slow_clients_hold_it_and_fetch_waits_for_a_late_server(local_probe):
    """Two clients that connect and send nothing would each hold a one-at-a-time server for
    its 2 s wait: a fetch bounded at 3 s gets its page all the same. A fetch started before
    its server listens is answered once it does (a container started a moment ago)."""
    port, late = _free_port(), _free_port()
    server = subprocess.Popen([local_probe, "serve", str(port)])
    held = []
    try:
        time.sleep(0.3)
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        fetch = subprocess.Popen([local_probe, f"fetch:127.0.0.1:{port}:3", f"fetch:127.0.0.1:{late}:8"],
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        late_server = subprocess.Popen([local_probe, "serve", str(late)])
        try:
            out = fetch.communicate(timeout=30)[0]
        finally:
            late_server.terminate()
            late_server.wait(5)
    finally:
        for conn in held:
            conn.close()
        server.terminate()
        server.wait(5)
    got = snapshot.key_values(out)
    assert got == {f"fetch:127.0.0.1:{port}:3": "hello", f"fetch:127.0.0.1:{late}:8": "hello"}


def test_the_default_container_steps_come_from_the_data():
    desired = {"sysctl": {"settings": {}}, "seccomp": {"deny_socket_families": [17, 40]}}
    steps = snapshot.seccomp_steps(desired)
    assert "socket:packet" in steps and "syscall:bpf" in steps
    assert snapshot.sysctls_seen({"sysctl:net.core.somaxconn": "4096", "nnp": "1"}) == {"net.core.somaxconn": "4096"}
