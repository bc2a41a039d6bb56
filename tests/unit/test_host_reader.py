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


def test_the_sysctl_op_reads_what_the_shell_and_awk_read(tmp_path):
    """sysctl.d laid out with what the fact must tell apart: a file, a mask (a link to
    /dev/null, through a relative link), a link elsewhere, a name it cannot carry, a directory
    without files, sysctl.conf last; live keys, one missing. The reader's lines are the shell's."""
    from dockwright.facts import kernel as fkernel
    etc, run_, lib = (tmp_path / "etc", tmp_path / "run", tmp_path / "lib")
    for d in (etc, run_, lib):
        d.mkdir()
    (etc / "10-a.conf").write_text("net.core.somaxconn = 4096\n# a comment\n  -vm.swappiness=10\nX=1")
    (lib / "10-a.conf").write_text("net.core.somaxconn = 1\n")  # masked by etc's name
    (lib / "20-b.conf").write_text("kernel.pid_max=4194304\r\n")
    (lib / "30-masked.conf").write_text("vm.swappiness = 60\n")
    (tmp_path / "null-link").symlink_to("/dev/null")
    (etc / "30-masked.conf").symlink_to("../null-link")
    (tmp_path / "vendor.conf").write_text("net.ipv4.ip_forward = 1\n")
    (run_ / "40-vendor.conf").symlink_to("../vendor.conf")
    (run_ / "README").write_text("not read\n")
    conf = tmp_path / "sysctl.conf"
    conf.write_text("#net.ipv4.ip_forward=1\nnet.ipv4.tcp_syncookies=1\n")
    keys = ("net.core.somaxconn", "vm.swappiness", "kernel.dockwright_no_such_key")
    dirs = (str(etc), str(run_), str(tmp_path / "none"), str(lib))

    def shell():
        command = fkernel.SysctlState().command(keys=keys)
        command = command.replace(" ".join(fkernel.SYSCTL_DIRS), " ".join(dirs))
        return run_locally(command.replace(fkernel.SYSCTL_CONF, str(conf)))[1]

    def reader():
        arg = f"sysctl:{','.join(sorted(keys))};{','.join(dirs)};{conf}"
        return run_locally(host_reader.python_command([arg], bare=True))[1]

    theirs, mine = shell(), reader()
    assert mine == theirs
    state = fkernel.SysctlState().process(mine)
    assert state["missing"] == ["kernel.dockwright_no_such_key"] and f"{etc}/30-masked.conf" in state["paths"]
    assert state["links"] == {f"{run_}/40-vendor.conf": str(tmp_path / "vendor.conf")}
    (etc / "bad:name.conf").write_text("vm.swappiness=1\n")
    theirs, mine = shell(), reader()
    assert mine == theirs and fkernel.SysctlState().process(mine)["odd"] == []  # not a system directory
    assert any(line.startswith("odd ") for line in mine)


def test_the_sysctl_op_agrees_with_the_shell_on_this_machine():
    from dockwright.facts import kernel as fkernel
    keys = ("net.core.somaxconn", "fs.protected_symlinks", "kernel.pid_max", "net.ipv4.tcp_rmem")
    fact = fkernel.SysctlState()
    _, theirs = run_locally(fact.command(keys=keys))
    _, mine = run_locally(host_reader.python_command(fact.ops(keys=keys), bare=True))
    assert mine == theirs and any(line.startswith("live net.ipv4.tcp_rmem ") for line in mine)
