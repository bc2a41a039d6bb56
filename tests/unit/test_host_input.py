"""What a host says is input: names a host reports (networks, containers) never reach a shell as
text, and never forge a frame of the read that reported them.

Docker accepts nearly any network name (only a blank one is refused), so every name below is one
a docker group member could create. Each is planted where the read reports a network name, and
the diagnosis is planned from it: the active command must be byte for byte the command of a
benign name (names travel as IDs and indexes), the read's frames must stay as they were, and the
findings must name the network as the host named it, as data.
"""

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from dockwright.diagnosis import active, fact, findings

from .test_diagnose import MANAGER, raw
from .harness import FakeHost

MARKER = "/tmp/dw-host-input-pwned"
HOSTILE = [
    f"x';touch {MARKER};'", f'x";touch {MARKER};"', f"$(touch {MARKER})", f"`touch {MARKER}`",
    f"x\ntouch {MARKER}", f"x\n{fact.MARK} sysctl\nnet/netfilter/nf_conntrack_count 0",
    f"x\n{active.MARK} 0 - fetch:x:1:1=hello", f"{active.MARK} 0 0", "a b c", "x" * 300,
    "caf\udcff\udcfe", "-x --privileged", "x/../../etc", "@@dockerd-down 1",
]


def _reading(name: str, containers=({"id": "c1", "name": "web"},)) -> dict:
    lines = raw(containers=list(containers))
    backend = next(i for i, line in enumerate(lines) if line.startswith('{"Name": "backend"'))
    doc = json.loads(lines[backend])
    lines[backend] = json.dumps({**doc, "Name": name})  # as `docker network inspect --format '{{json .}}'` prints it
    reading = fact.NetworkHealth().process(lines)
    reading["arch"] = "x86_64"
    return reading


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_network_name_reaches_no_command_and_forges_no_frame(name):
    benign, hostile = _reading("backend"), _reading(name)
    # The frames hold: every sysctl read as before; the container is on the network, by its name.
    assert hostile["sysctl"] == benign["sysctl"] and hostile["tcp"] == benign["tcp"]
    assert name in hostile["docker"]["networks"] and hostile["docker"]["containers"][0]["networks"] == [name]
    # The command is the benign one, byte for byte, and splits into the same words.
    cmd = active.command(hostile, MANAGER)
    assert cmd == active.command(benign, MANAGER)
    assert shlex.split(cmd) == shlex.split(active.command(benign, MANAGER))
    # The probe's answers come back tagged by index, and name the network as the host named it.
    out = [f"{active.MARK} 0 - fetch:dw-diag-active-0:8080:10=timeout", f"{active.MARK} 0 0 resolve:x=unresolved"]
    found = active.judge("lab1", active.results(out, hostile))
    assert sorted(f.scope for f in found) == ["container web", f"network {name}"]


def test_a_name_that_forges_the_frame_would_have_hidden_a_finding():
    """The negative control: the forged sysctl line in a name would set the conntrack count to 0
    if frames were forgeable; the real count (240000 of 262144) stays a critical finding."""
    lines = raw(count=240000)
    backend = next(i for i, line in enumerate(lines) if line.startswith('{"Name": "backend"'))
    lines[backend] = json.dumps({**json.loads(lines[backend]), "Name": HOSTILE[5]})
    reading = fact.NetworkHealth().process(lines)
    found = findings.judge("lab1", reading, MANAGER["diagnose"], MANAGER, None)
    assert ("host", "conntrack_used", "critical") in [(f.scope, f.check, f.severity) for f in found]
    # ... and the same name printed raw (as the old read printed a container's networks) hides it.
    forged = lines[:backend] + HOSTILE[5].split("\n")[1:] + lines[backend:]
    hidden = findings.judge("lab1", fact.NetworkHealth().process(forged), MANAGER["diagnose"], MANAGER, None)
    assert "conntrack_used" not in [f.check for f in hidden]


def test_the_active_command_runs_nothing_a_name_says(tmp_path):
    """The command, run by a real shell against a stub docker that answers every call, creates
    no marker whatever the names (and the stub saw only IDs)."""
    stub = tmp_path / "bin"
    stub.mkdir()
    calls = tmp_path / "calls"
    for tool in ("docker", "timeout"):
        (stub / tool).write_text(f"#!/bin/sh\n[ $(basename $0) = timeout ] && {{ shift 3; exec \"$@\"; }}\n"
                                 f"printf '%s\\n' \"$*\" >> {calls}\necho 0.0.0.0:32768\n")
        (stub / tool).chmod(0o755)
    marker = tmp_path / "pwned"
    for name in HOSTILE:
        reading = _reading(name.replace(MARKER, str(marker)))
        res = subprocess.run(["sh", "-c", active.command(reading, MANAGER)], env={"PATH": f"{stub}:/usr/bin:/bin"},
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0 and not marker.exists()
    assert "backend" not in calls.read_text() and "touch" not in calls.read_text()


def _python_commands() -> dict[str, str]:
    from dockwright import dockerd
    from dockwright.operations import swarm
    return {"engine api read": dockerd.api_or_cli("networks", "false"), "swarm join": swarm.JOIN_VIA_API}


@pytest.mark.parametrize("which", ["engine api read", "swarm join"])
def test_python_on_a_host_never_imports_from_the_working_directory(tmp_path, which):
    """With --sudo the session's working directory is the SSH user's home: a socket.py planted
    there must not be imported (it would get the join token, as root)."""
    marker = tmp_path / "imported"
    (tmp_path / "socket.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(0)\n")
    (tmp_path / "json.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(0)\n")
    bin_ = tmp_path / "bin"
    bin_.mkdir()  # a host's tools, but no curl: the join takes its python3 branch
    for tool in ("python3", "timeout", "cat", "sh"):
        (bin_ / tool).symlink_to(next(p for d in ("/usr/bin", "/bin") if (p := Path(d) / tool).exists()))
    subprocess.run(["sh", "-c", _python_commands()[which]], cwd=tmp_path, input="{}", text=True,
                   capture_output=True, env={"PATH": str(bin_), "PYTHONPATH": str(tmp_path)}, timeout=60)
    assert not marker.exists()
    # The negative control: the same planted module is imported by a plain python3 -c.
    subprocess.run(["sh", "-c", "python3 -c 'import socket'"], cwd=tmp_path, env={"PATH": str(bin_)}, timeout=60)
    assert marker.exists()


def test_every_command_a_run_sends_is_valid_shell():
    """The whole read of a manager, a worker and a standalone host, the diagnosis read, the
    active probes and the join: each parses in the shell the hosts run (sh -n), so a read can
    never fail on all hosts for a syntax error (a subshell under `timeout` once did)."""
    from dockwright import concerns, factcache, model
    from dockwright.operations import swarm

    from .helpers import group_data
    commands = [fact.NetworkHealth().command(), active.command(_reading("backend"), MANAGER), swarm.JOIN_VIA_API]
    for groups in (("swarm_managers",), ("swarm_workers",), ("standalone",)):
        desired = model.merge_layers([group_data("all"), *(group_data(g) for g in groups)])
        parts = []
        for read in concerns.reads(concerns.View(FakeHost({}), desired)):  # as prefetch spells each command
            instance = read.fact()
            command = instance.command(**read.args) if callable(instance.command) else instance.command
            parts.append(command.get_raw_value() if hasattr(command, "get_raw_value") else str(command))
        commands.append(factcache.HostState().command(commands=tuple(parts)))
    for cmd in commands:
        res = subprocess.run(["sh", "-n", "-c", cmd], capture_output=True, text=True)
        assert res.returncode == 0, (res.stderr, cmd[:200])


ODD_FILE_NAMES = ["x\nlive net.core.somaxconn 1\n.conf", "a:b.conf", "c\x01.conf"]


@pytest.mark.parametrize("odd", ODD_FILE_NAMES, ids=["newline", "colon", "control"])
def test_a_sysctl_file_name_that_would_forge_the_read_refuses_the_host(tmp_path, monkeypatch, odd):
    """Run for real in sh over planted directories: a name with a newline would have forged a
    live value (somaxconn 1); the read prints only its directory, and the plan refuses the host.
    Names that are merely strange (quotes, $(), spaces) are read as they are."""
    from dockwright.facts import kernel
    from dockwright.plans import sysctl

    etc, lib = tmp_path / "etc", tmp_path / "lib"
    etc.mkdir(), lib.mkdir()
    (lib / "50-ok.conf").write_text("net.core.somaxconn = 4096\n")
    (lib / "q'$(touch x) y.conf").write_text("net.core.somaxconn = 4096\n")
    monkeypatch.setattr(kernel, "SYSCTL_DIRS", (str(etc), str(lib)))

    def read():
        cmd = kernel.SysctlState().command(["net.core.somaxconn"])
        out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, cwd=tmp_path).stdout
        return kernel.SysctlState().process(out.splitlines())

    clean = read()
    assert clean["odd"] == [] and clean["paths"][:2] == [str(lib / "50-ok.conf"), str(lib / "q'$(touch x) y.conf")]
    assert not (tmp_path / "x").exists()
    (etc / odd).write_text("net.core.somaxconn = 1\n")
    state = read()
    assert state["odd"] == [str(etc)] and state["live"] == clean["live"]
    refused = sysctl.plan({"net.core.somaxconn": 4096}, str(etc / "90-dockwright.conf"), "takeover", state)
    assert refused.refusal and "rename it" in refused.refusal and str(etc) in refused.refusal
    assert not sysctl.plan({"net.core.somaxconn": 4096}, str(etc / "90-dockwright.conf"), "takeover", clean).refusal
    if "\n" in odd:  # the negative control: printed as a file line, the name sets a live value
        forged = kernel.SysctlState().process(f"live net.core.somaxconn 4096\nfile {etc / odd}".splitlines())
        assert forged["live"]["net.core.somaxconn"] == "1"


@pytest.mark.parametrize("rule", [n for n in HOSTILE if n.isprintable() or "\n" in n])  # iptables prints text
def test_a_foreign_docker_user_rule_kept_aside_is_written_as_the_host_said_it_and_runs_nothing(tmp_path, rule):
    """A takeover writes the chain the host reported (a rule's comment holds any text) into the
    kept-aside file: the command, run, writes those bytes and nothing else happens."""
    from dockwright.operations import firewall
    live = f"-N DOCKER-USER\n-A DOCKER-USER -m comment --comment {rule} -j DROP\n"
    cmd = firewall.keep_aside_command("ipv4", live).replace(firewall.RULES_DIR, str(tmp_path))
    res = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert res.returncode == 0, res.stderr
    kept = (tmp_path / "port-policy.ipv4.taken-over").read_text()
    assert kept.split("\n", 1)[1] == live and not Path(MARKER).exists()
