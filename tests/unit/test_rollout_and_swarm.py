"""Operations whose commands are Python callbacks: the daemon rollout and the swarm join."""

import hashlib
import json
from types import SimpleNamespace

import pytest
from pyinfra.api import FunctionCommand, OperationError

from dockwright import restarts
from dockwright.operations import docker, swarm
from dockwright.plans import docker as docker_plan, swarm as swarm_plan

from dockwright.facts import engine as fengine

from .harness import DEBIAN, FakeHost, FakeState, run
from .helpers import UNIT


ENGINE = {"exec_start": UNIT, "docker_opts": "", "rollout": {}, "failed": {}, "os": DEBIAN}


def test_changed_daemon_json_is_one_gated_rollout_step():
    content = '{\n  "icc": false\n}\n'
    commands, _ = run(docker.daemon_config, {"DockerEngine": dict(ENGINE, daemon_json='{\n  "icc": true\n}\n')},
                      content=content, health_timeout=30, batch=3)
    assert len(commands) == 1 and isinstance(commands[0], FunctionCommand)
    script, staged, run_id, slot, manager, timeout, conn = commands[0].args
    assert staged == content and content not in script and slot == ("batch-3", 3) and not manager
    assert "dockerd --validate" in script and "within 30 s" in script and ".dockwright-bak" in script


def test_a_rolled_back_candidate_is_not_retried():
    content = '{\n  "storage-driver": "btrfs"\n}\n'
    sha = hashlib.sha256(content.encode()).hexdigest()
    failed = {"sha256": sha, "at": "2026-11-28T09:00:00Z", "reason": "dockerd not healthy within 30 s"}
    with pytest.raises(OperationError, match="was rolled back at 2026-11-28T09:00:00Z: dockerd not healthy"):
        run(docker.daemon_config, {"DockerEngine": dict(ENGINE, daemon_json="{}\n", failed=failed)}, content=content)
    commands, _ = run(docker.daemon_config, {"DockerEngine": dict(ENGINE, daemon_json="{}\n", failed=failed)},
                      content=content, retry_failed=True)
    assert len(commands) == 1
    other = '{\n  "storage-driver": "overlay2"\n}\n'  # changed data: tried
    commands, _ = run(docker.daemon_config, {"DockerEngine": dict(ENGINE, daemon_json="{}\n", failed=failed)}, content=other)
    assert len(commands) == 1


def test_an_unwatched_rollout_is_reported_once():
    last = {"result": "rolled-back", "at": "2026-11-28T09:00:00Z", "reason": "x", "seen": "0"}
    commands, _ = run(docker.daemon_config, {"DockerEngine": dict(ENGINE, daemon_json="{}\n", rollout=last)},
                      content="{}\n")
    assert commands == ["sed -i 's/^seen=0$/seen=1/' /var/lib/dockwright/rollout.state"]


def run_host(name, lines, ok=True) -> FakeHost:
    """A host whose every command answers ``lines`` (a list, or a function of the command)."""
    return FakeHost(name=name, answer=lambda text: (ok, lines(text) if callable(lines) else lines))


def _host(name, result, run_id="r1"):
    def answer(cmd):
        if "systemd-run" in cmd:
            return [f"log step of {name}", f"state result={result}", f"state run={run_id}"]
        return []
    return run_host(name, answer)


def test_rollout_halts_after_first_unhealthy_host():
    state = FakeState()
    bad = _host("lab1", "rolled-back")
    assert docker._apply(state, bad, "script", "{}", "r1", ("batch-1", 1), False, 30, {}) is False
    nxt = _host("lab2", "applied")
    assert docker._apply(state, nxt, "script", "{}", "r1", ("batch-1", 1), False, 30, {}) is False
    assert nxt.ran == [] and "rollout stopped after lab1 failed" in nxt.logged[0]


def test_rollout_goes_on_after_a_rejected_candidate_and_uses_stdin_and_sudo():
    state = FakeState()
    rejected = _host("lab1", "rejected")
    assert docker._apply(state, rejected, "script", "{}", "r1", ("batch-1", 1), False, 30, {"_sudo": True}) is False
    ok = _host("lab2", "applied")
    assert docker._apply(state, ok, "script", '{"a": 1}', "r1", ("batch-1", 1), False, 30, {"_sudo": True}) is True
    stage, start, seen = ok.ran
    assert seen[0] == "sed -i 's/^seen=0$/seen=1/' /var/lib/dockwright/rollout.state"
    assert stage[1] == {"_sudo": True, "_stdin": '{"a": 1}', "print_output": False}
    assert '{"a": 1}' not in stage[0] and "systemd-run --unit=dockwright-daemon-apply" in start[0]
    assert start[1]["_sudo"] is True


def test_busy_host_is_skipped_and_does_not_halt_the_rollout():
    state = FakeState()
    busy = _host("lab1", "busy")
    assert docker._apply(state, busy, "script", "{}", "r1", ("batch-1", 1), False, 30, {}) is False
    assert any("another rollout is running" in m for m in busy.logged)
    assert docker._apply(state, _host("lab2", "applied"), "s", "{}", "r1", ("batch-1", 1), False, 30, {})


def test_no_outcome_in_time_halts_the_rollout():
    state = FakeState()
    silent = run_host("lab1", [])
    assert docker._apply(state, silent, "script", "{}", "r1", ("batch-1", 1), False, 30, {}) is False
    assert any("no outcome in time" in m for m in silent.logged)
    nxt = _host("lab2", "applied")
    assert docker._apply(state, nxt, "s", "{}", "r1", ("batch-1", 1), False, 30, {}) is False and nxt.ran == []


def test_manager_restart_needs_the_other_managers_for_quorum():
    active = ["state active true"]
    nodes = lambda *ls: active + [f"node {line}" for line in ls]  # noqa: E731
    assert docker_plan.quorum_problem(nodes("true Leader")) is None  # a single manager
    assert docker_plan.quorum_problem(nodes("true Leader", "false Reachable", "false Reachable")) is None
    assert "needs 2" in docker_plan.quorum_problem(nodes("true Leader", "false Reachable", "false Unreachable"))
    assert docker_plan.quorum_problem(nodes("true Leader", "false Reachable"))  # 2 managers: no spare
    assert docker_plan.quorum_problem(["state inactive false"]) is None  # not in a swarm yet: nothing to keep


def test_the_quorum_check_fails_closed():
    """docker info or node ls failing, timing out or printing nothing stops a manager's restart
    (it used to print nothing and let the restart go ahead)."""
    for lines in ([], ["info-failed 124"], ["state active true", "nodes-failed 1"]):
        assert "cannot read the swarm's state" in docker_plan.quorum_problem(lines), lines


def test_the_quorum_query_says_which_step_failed(tmp_path):
    """QUORUM_QUERY run here against a docker that fails, then one that answers."""
    import subprocess
    (tmp_path / "docker").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "docker").chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    out = subprocess.run(["sh", "-c", restarts.QUORUM_QUERY], env=env, capture_output=True, text=True).stdout
    assert out.split() == ["info-failed", "1"]
    (tmp_path / "docker").write_text("#!/bin/sh\n[ \"$1\" = info ] && echo 'active true' || "
                                     "printf 'true Leader\\nfalse Reachable\\n'\n")
    out = subprocess.run(["sh", "-c", restarts.QUORUM_QUERY], env=env, capture_output=True, text=True).stdout
    assert out.splitlines() == ["state active true", "node true Leader", "node false Reachable"]


def test_batches_never_exceed_their_size():
    """Five hosts of one batch-2 group: at most two rollouts at once (greenlets, as pyinfra runs them)."""
    import gevent
    state, active, peak = FakeState(), [0], [0]

    class Slow(FakeHost):
        def run_shell_command(self, command, **kwargs):
            if "systemd-run" in command.get_raw_value():
                active[0] += 1
                peak[0] = max(peak[0], active[0])
                gevent.sleep(0.05)
                active[0] -= 1
            return super().run_shell_command(command, **kwargs)

    hosts = [Slow(name=f"h{i}", answer=lambda cmd: (True, ["state result=applied", "state run=r1"])) for i in range(5)]
    jobs = [gevent.spawn(docker._apply, state, h, "s", "{}", "r1", ("batch-2", 2), False, 30, {}) for h in hosts]
    gevent.joinall(jobs)
    assert all(j.value for j in jobs) and peak[0] == 2


def test_swarm_join_reads_token_on_manager_and_hides_it():
    token = "SWMTKN-1-secret"
    manager = run_host("lab1", [token])
    joined = []

    class Joiner(FakeHost):
        def run_shell_command(self, command, **kwargs):
            joined.append((command, kwargs))
            return True, SimpleNamespace(stderr_lines=[])

    assert swarm._join(SimpleNamespace(), Joiner(name="lab2"), manager, "worker", "10.99.0.12", "10.99.0.11")
    command, kwargs = joined[0]
    # The token is only in the request body on stdin, never in the command (argv on the host).
    assert token not in command.get_raw_value() and "/swarm/join" in command.get_raw_value()
    assert json.loads(kwargs["_stdin"]) == {
        "ListenAddr": "10.99.0.12:2377", "AdvertiseAddr": "10.99.0.12",
        "RemoteAddrs": ["10.99.0.11:2377"], "JoinToken": token}
    assert kwargs["print_output"] is False


def test_join_script_posts_stdin_to_the_engine_api(tmp_path):
    """The python3 branch, run here against a fake Engine socket: the body arrives intact."""
    import socket
    import subprocess
    import threading
    sock_path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    server.listen(1)
    got = {}

    def serve():
        conn, _ = server.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(4096)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int([x for x in head.split(b"\r\n") if x.lower().startswith(b"content-length")][0].split(b":")[1])
        while len(body) < length:
            body += conn.recv(4096)
        got["head"], got["body"] = head.decode(), body.decode()
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    script = swarm._JOIN_PY.replace("/var/run/docker.sock", str(sock_path))
    body = swarm.join_body("SWMTKN-1-x", "10.0.0.2", "10.0.0.1")
    res = subprocess.run(["python3", "-c", script], input=body, text=True, capture_output=True, timeout=30)
    t.join(10)
    assert res.returncode == 0, res.stderr
    assert got["head"].startswith("POST /swarm/join HTTP/1.0") and json.loads(got["body"])["JoinToken"] == "SWMTKN-1-x"


class Manager:
    """The leader as a worker's join sees it: data and its SwarmState (weakly referable, as
    pyinfra's hosts are, for the run's fact cache)."""

    name = "lab1"

    def __init__(self, data, swarm_state):
        self.data, self.swarm_state, self.asked = data, swarm_state, 0

    def get_fact(self, cls, **kwargs):
        self.asked += 1
        return self.swarm_state


def test_the_leaders_address_is_taken_from_its_merged_desired_state(monkeypatch):
    """Not from host.data: a --data override of swarm keeps the group data's address in the model."""
    from dockwright.concerns import swarm as swarm_concern
    leader = SimpleNamespace(data={"swarm": {"advertise_addr": "10.0.0.9"}})
    monkeypatch.setattr(swarm_concern.model, "desired", lambda h: {"swarm": {"advertise_addr": "10.99.0.11"}})
    assert swarm_concern._advertised(leader) == "10.99.0.11"


def test_join_when_member_of_another_swarm_is_refused():
    manager = Manager({"swarm": {"advertise_addr": "10.99.0.11"}}, {"cluster_id": "abc"})
    with pytest.raises(OperationError, match="member of another swarm"):
        run(swarm.join, {"SwarmState": {"state": "active", "cluster_id": None, "manager": False,
                                        "remote_managers": ["10.1.1.1:2377"]}},
            manager=manager, role="worker", advertise_addr="10.99.0.12", manager_addr="10.99.0.11")


def test_join_when_already_in_this_swarm_is_a_noop():
    manager = Manager({"swarm": {"advertise_addr": "10.99.0.11"}}, {"cluster_id": "abc"})
    commands, fake = run(swarm.join, {"SwarmState": {"state": "active", "cluster_id": None, "manager": False,
                                                     "remote_managers": ["10.99.0.11:2377"]}},
                         manager=manager, role="worker", advertise_addr="10.99.0.12", manager_addr="10.99.0.11")
    assert commands == [] and "already a swarm worker" in fake.noops


def test_engine_versions_with_the_cleartext_overlay_bug_are_refused():
    assert swarm_plan.engine_problem((20, 10, 23))
    assert swarm_plan.engine_problem((23, 0, 2))
    assert swarm_plan.engine_problem((20, 10, 24)) is None
    assert swarm_plan.engine_problem((26, 1, 5)) is None


class _Mgr:
    def __init__(self, name):
        self.name = name


def _mgr(name):
    return _Mgr(name)


def test_leader_is_the_manager_already_leading_not_the_first_by_name():
    new, old = _mgr("aaa-new"), _mgr("lab1")
    states = {new: {"state": "inactive", "manager": False, "cluster_id": None},
              old: {"state": "active", "manager": True, "cluster_id": "c1"}}
    assert swarm_plan.choose_leader(states) == (old, [])


def test_no_swarm_anywhere_the_first_manager_founds_it():
    a, b = _mgr("a"), _mgr("b")
    inactive = {"state": "inactive", "manager": False, "cluster_id": None}
    assert swarm_plan.choose_leader({a: inactive, b: inactive}) == (a, [])


def test_an_unreachable_manager_stops_a_founding_and_two_swarms_are_named():
    a, b = _mgr("a"), _mgr("b")
    inactive = {"state": "inactive", "manager": False, "cluster_id": None}
    leader, why = swarm_plan.choose_leader({a: inactive, b: None})
    assert "cannot ask manager(s) b" in why[0]
    one = {"state": "active", "manager": True, "cluster_id": "c1" * 8}
    two = {"state": "active", "manager": True, "cluster_id": "c2" * 8}
    leader, why = swarm_plan.choose_leader({a: one, b: two})
    assert leader is a and "managers lead different swarms" in why[0]


def test_the_runs_fact_cache_sends_one_read_for_concurrent_askers_and_forgets_on_change():
    import gevent
    from dockwright import factcache

    class Slow(Manager):
        def get_fact(self, cls, **kwargs):
            gevent.sleep(0.05)  # a read in flight while other hosts' greenlets ask too
            return super().get_fact(cls, **kwargs)

    leader = Slow({}, {"cluster_id": "abc"})
    askers = [gevent.spawn(factcache.get, leader, fengine.SwarmState) for _ in range(20)]
    gevent.joinall(askers)
    assert [a.value for a in askers] == [{"cluster_id": "abc"}] * 20 and leader.asked == 1
    factcache.forget(leader, fengine.SwarmState)
    assert factcache.get(leader, fengine.SwarmState) == {"cluster_id": "abc"} and leader.asked == 2


def test_a_full_disk_fails_the_staging_at_once_naming_the_place(tmp_path):
    """The free-space test the staging runs first, run here: a filesystem without room fails
    in a second with exit 28 and names the directory; with room it passes (the control)."""
    import subprocess
    from dockwright.operations import docker as docker_ops
    full = subprocess.run(["sh", "-c", docker_ops.space_check(10 ** 15, (str(tmp_path / "state"),))],
                          capture_output=True, text=True, timeout=10)
    assert full.returncode == 28 and f"no space for the rollout in {tmp_path}" in full.stderr
    room = subprocess.run(["sh", "-c", docker_ops.space_check(2, (str(tmp_path / "state"),))],
                          capture_output=True, text=True, timeout=10)
    assert room.returncode == 0, room.stderr


JOURNAL = {"result": "started", "sha256": "ab" * 32, "previous": "cd" * 32, "swarm": "inactive",
           "at": "2026-11-30T21:00:00Z", "run": "r0", "seen": "0"}


def test_an_unfinished_rollout_is_recovered_first_and_its_dockerd_is_not_started_on_the_candidate():
    engine = dict(ENGINE, daemon_json='{\n  "storage-driver": "btrfs"\n}\n', rollout=JOURNAL,
                  package="docker.io", enabled=True, active=False)
    commands, _ = run(docker.engine, {"DockerEngine": engine})
    assert commands == []  # left to the recovery: starting it would start it on the candidate
    commands, _ = run(docker.daemon_config, {"DockerEngine": engine}, content="{}\n", batch=2)
    recover, forget = commands
    assert recover.args[-1] == "recover" and recover.args[3] == ("batch-2", 2)
    assert forget.function is not docker._apply  # the later operations read dockerd again
    decided = docker.daemon_plan("{}\n", engine, None)
    assert decided.recover == JOURNAL and not decided.apply
    assert decided.items == [
        ("daemon.json: rollout ended without an outcome", "finished", "started at 2026-11-30T21:00:00Z")]


def test_a_recovery_asks_no_quorum_stages_nothing_and_waits_for_the_recover_mode():
    host = _host("lab1", "rolled-back")
    assert docker._apply(FakeState(), host, "script", "{}", "r1", ("managers", 1), True, 30, {}, "recover") is False
    (start, _), (seen, _) = host.ran
    assert "QUORUM" not in start and "docker node ls" not in start and "cat > " not in start
    assert "/var/lib/dockwright/daemon-apply.sh r1 recover" in start and "again=done" in start
    assert seen.startswith("sed -i 's/^seen=0$/seen=1/'")
    assert docker._apply(FakeState(), _host("lab1", "none"), "s", "{}", "r1", ("managers", 1), True, 30, {}, "recover")


def test_the_waiter_recovers_a_rollout_that_died_once():
    command = docker.start_and_wait("script", "r1" * 8, 30)
    assert command.count("daemon-apply.sh r1r1r1r1r1r1r1r1 apply") == 2  # systemd-run, else setsid
    assert command.count("daemon-apply.sh r1r1r1r1r1r1r1r1 recover") == 2 and "again=no" in command
    assert "kill -0" in command and "--unit=dockwright-daemon-apply-recover-r1r1r1r1r1r1" in command


# The engine package's version rollout shares the slots, the quorum and the halt with daemon.json's.
def _package_host(name, result, run_id="r1"):
    def answer(cmd):
        if "package-apply.sh" in cmd:
            return [f"log step of {name}", f"state result={result}", f"state run={run_id}",
                    "state previous=1.0", "state version=2.0", "state reason=why"]
        return []
    return run_host(name, answer)


def _package_apply(state, host):
    from dockwright.operations import package
    return restarts.turn(state, host, "script", "", "r1", ("batch-1", 1), False, 30, {}, "apply",
                        package._roll, "engine package")


def test_a_package_rolled_back_halts_the_rollout_and_no_further_host_is_restarted():
    state = FakeState()
    assert _package_apply(state, _package_host("lab1", "rolled-back")) is False
    nxt = _package_host("lab2", "applied")
    assert _package_apply(state, nxt) is False
    assert nxt.ran == [] and "engine package not applied: the rollout stopped after lab1 failed" in nxt.logged[0]


@pytest.mark.parametrize("result", ["refused", "failed", "busy"])
def test_a_package_rollout_that_restarted_nothing_does_not_halt_the_others(result):
    state = FakeState()
    assert _package_apply(state, _package_host("lab1", result)) is False
    ok = _package_host("lab2", "applied")
    assert _package_apply(state, ok) is True
    (start, _), = ok.ran
    assert "setsid -f /bin/sh /var/lib/dockwright/package-apply.sh r1" in start


def test_a_package_rollout_without_an_outcome_halts_and_never_reads_as_applied():
    state = FakeState()
    silent = run_host("lab1", [])
    assert _package_apply(state, silent) is False
    assert any("the rollout gave no outcome" in m for m in silent.logged)
    assert _package_apply(state, _package_host("lab2", "applied")) is False
