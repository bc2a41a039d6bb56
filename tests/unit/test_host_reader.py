"""The host's reader (dockwright.host_reader): one python3 start answers, for every fact of the
host-state read that takes part, what that fact's own command prints. Run here in a local shell,
as a host would run it: the same facts come out of the shared read, of its fallback (no python3
on the host) and of each fact read alone; a reader that fails or dies is never an empty answer."""

import hashlib
import os
import shlex
import shutil
import subprocess

import pytest

from dockwright import dockerd, factcache, host_reader
from dockwright.facts import engine as fengine
from dockwright.facts import firewall as ffirewall
from dockwright.facts import networks as fnetworks
from dockwright.facts import profiles as fprofiles

from .test_hoststate import LocalHost, run_locally


def _members(tmp_path):
    seccomp = tmp_path / "seccomp profile.json"
    seccomp.write_text('{"defaultAction": "SCMP_ACT_ERRNO"}\n')
    return [(fengine.DockerEngine, {}), (fprofiles.Sha256File, {"path": str(seccomp)}),
            (fprofiles.Sha256File, {"path": str(tmp_path / "absent.json")}),
            (fprofiles.AppArmorState, {"profile_name": "dockwright-test-absent"}),
            (fnetworks.DockerNetworks, {}), (ffirewall.PortPolicy, {}), (fengine.SwarmState, {})]


def _alone(members):
    host = LocalHost()
    return [factcache.get(host, cls, **kw) for cls, kw in members]


def test_one_reader_serves_every_fact_as_each_alone_would(tmp_path):
    members = _members(tmp_path)
    command = "\n".join(c for c, _ in factcache.read_parts([(c, kw, c()) for c, kw in members]))
    served = command.split(" else echo '@@whole 0'")[0]  # the branch where the host has python3
    assert served.count("python3 -I -S") == 1 and "sha256sum" not in served and "dpkg-query" not in served
    host = LocalHost()
    factcache.prefetch(host, members)
    assert host.reads == ["HostState"]
    shared = [factcache.get(host, cls, **kw) for cls, kw in members]
    assert shared == _alone(members)
    assert shared[1] == hashlib.sha256((tmp_path / "seccomp profile.json").read_bytes()).hexdigest()
    assert shared[2] is None and isinstance(shared[4], dockerd.Down)


def test_without_python3_each_fact_runs_its_own_command(tmp_path):
    members = _members(tmp_path)
    bin_ = tmp_path / "bin"
    bin_.mkdir()  # the host's tools, without python3
    for tool in ("sh", "sha256sum", "base64", "dpkg-query", "systemctl", "iptables", "ip6tables", "timeout",
                 "docker", "stat", "cat", "tr"):
        if found := shutil.which(tool):
            (bin_ / tool).symlink_to(found)
    pairs = [(cls(), kw) for cls, kw in members]
    command = host_reader.READ.command(pairs)
    res = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60, env={"PATH": str(bin_)})
    outputs = host_reader.READ.split(res.stdout.splitlines(), pairs)
    assert "@@op 0" not in res.stdout and "@@whole 6" in res.stdout
    got = [fact.process(out) if out else fact.default() for (fact, _), out in zip(pairs, outputs)]
    alone = _alone(members)
    # Down both ways where no dockerd answers (the CLI's reason here, the socket's alone).
    assert [type(x) if isinstance(x, dockerd.Down) else x for x in got[1:]] == \
        [type(x) if isinstance(x, dockerd.Down) else x for x in alone[1:]]
    assert got[0]["daemon_json"] == alone[0]["daemon_json"] and got[0]["os"] == alone[0]["os"]


def test_the_package_op_prints_what_dpkg_query_prints():
    if not shutil.which("dpkg-query"):
        pytest.skip("no dpkg here")
    names = ["bash", "coreutils", "no-such-package-here", "dpkg"]
    _, mine = run_locally(host_reader.python_command([f"dpkg:{','.join(names)}"], bare=True))
    _, theirs = run_locally("dpkg-query -W -f='${Package} ${Version} ${Status}\\n' " + " ".join(names) + " 2>/dev/null")
    assert sorted(mine) == sorted(theirs) and len(mine) == 3


def _group(tmp_path, reader: str, members):
    pairs = [(cls(), kw) for cls, kw in members]
    command = host_reader.READ.command(pairs).replace(shlex.quote(host_reader.READER), shlex.quote(reader))
    res = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)
    return pairs, host_reader.READ.split(res.stdout.splitlines(), pairs)


def test_an_op_that_fails_is_no_answer_and_the_fact_is_read_again_on_its_own(tmp_path):
    # dpkg's journal holds an update not yet merged into its status: the status file is stale.
    updates = tmp_path / "updates"
    updates.mkdir()
    (updates / "0001").write_text("Package: docker.io\n")
    reader = host_reader.READER.replace("/var/lib/dpkg/updates", str(updates))
    pairs, outputs = _group(tmp_path, reader, _members(tmp_path))
    assert outputs[0] is None  # DockerEngine: read again alone (dpkg-query reads the journal too)
    assert outputs[1] == [f"{hashlib.sha256((tmp_path / 'seccomp profile.json').read_bytes()).hexdigest()}  "
                          f"{tmp_path / 'seccomp profile.json'}"]


@pytest.mark.parametrize("death", ["import _signal, sys\nsys.exit(3)", "import sys\nsys.stdout.write('@@op 0\\nx')\nsys.exit(1)"])
def test_a_reader_that_dies_is_never_an_empty_answer(tmp_path, death):
    pairs, outputs = _group(tmp_path, death, _members(tmp_path))
    for (fact, _), out in zip(pairs, outputs):
        if isinstance(fact, dockerd.EngineApiFact):
            assert isinstance(fact.process(out), dockerd.Down)  # Down, never "no networks"
        else:
            assert out is None  # read again on its own, never "no such file"


def test_the_reader_imports_only_modules_built_into_the_interpreter(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"x" * 100)
    check = host_reader.READER + "\nimport sys; print(sorted(m for m in ('re', 'json', 'hashlib', 'base64', 'os', 'enum') if m in sys.modules))"
    res = subprocess.run(["python3", "-I", "-S", "-c", check, f"sha256:{f}", f"base64:{f}", "dpkg:bash"],
                         capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"]})
    assert res.stdout.splitlines()[-1] == "[]", res.stdout + res.stderr
    assert "@@op-failed" not in res.stdout


def test_the_modules_op_finds_what_the_shell_finds(tmp_path):
    """Against kernel lists laid out as a kernel's are (a module built in, one loadable under a
    dashed and compressed name, one nowhere): the reader's answer is the shell's, and lists it
    cannot read fail the op (the fact is then read alone: its modprobe fallback)."""
    from dockwright.facts import kernel as fkernel
    release = open("/proc/sys/kernel/osrelease").read().strip()
    lists = tmp_path / "modules" / release
    lists.mkdir(parents=True)
    (lists / "modules.builtin").write_text("kernel/net/dwtest_builtin.ko\n")
    (lists / "modules.dep").write_text("kernel/net/dwtest-loadable.ko.xz: kernel/net/dwtest_dep.ko\n"
                                       "kernel/net/x/dwtest_zst.ko.zst:\n")
    names = ("dwtest_builtin", "dwtest_loadable", "dwtest_zst", "dwtest_dep", "dwtest_missing")
    shell = fkernel.OverlayModules().command().replace(" ".join(fkernel.OVERLAY_MODULES), " ".join(names))
    _, theirs = run_locally(shell.replace("d=/lib/modules/", f"d={tmp_path}/modules/"))
    reader = host_reader.READER.replace('"/lib/modules/"', repr(f"{tmp_path}/modules/"))
    command = host_reader.python_command(["modules:" + ",".join(names)], bare=True)
    _, mine = run_locally(command.replace(shlex.quote(host_reader.READER), shlex.quote(reader)))
    assert mine == theirs == ["missing-module dwtest_dep", "missing-module dwtest_missing"]
    (lists / "modules.dep").unlink()
    res = subprocess.run(["python3", "-I", "-S", "-c", reader, "modules:dwtest_missing"],
                         capture_output=True, text=True, timeout=60)
    assert "@@op-failed 0" in res.stdout
