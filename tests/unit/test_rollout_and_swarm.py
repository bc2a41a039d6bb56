"""Operations whose commands are Python callbacks: the daemon rollout and the swarm join."""

import base64
from types import SimpleNamespace

import pytest
from pyinfra.api import FunctionCommand, OperationError

from operations import docker, swarm

from .harness import run

UNIT = "/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS"


def test_changed_daemon_json_is_one_gated_rollout_step():
    content = '{\n  "icc": false\n}\n'
    commands, _ = run(docker.daemon_config, {"DockerEngine": {
        "daemon_json": '{\n  "icc": true\n}\n', "exec_start": UNIT, "docker_opts": "", "swarm": "inactive"}},
        content=content, health_timeout=30)
    assert len(commands) == 1 and isinstance(commands[0], FunctionCommand)
    script = commands[0].args[0]
    assert base64.b64encode(content.encode()).decode() in script
    assert "dockerd --validate" in script and "within 30 s" in script and ".dockwright-bak" in script


class FakeRunHost:
    def __init__(self, name, lines, ok):
        self.name, self.lines, self.ok, self.ran, self.logged = name, lines, ok, 0, []

    def run_shell_command(self, command, **kwargs):
        self.ran += 1
        return self.ok, SimpleNamespace(output_lines=self.lines, stdout="\n".join(self.lines),
                                        stderr_lines=[])

    def log(self, msg, *a, **k):
        self.logged.append(msg)

    log_styled = log


def test_rollout_halts_after_first_unhealthy_host():
    state = SimpleNamespace()
    bad = FakeRunHost("lab1", ["dockerd not healthy", "dockwright-result: rolled-back"], False)
    assert docker._apply(state, bad, "script") is False
    nxt = FakeRunHost("lab2", ["dockwright-result: applied"], True)
    assert docker._apply(state, nxt, "script") is False
    assert nxt.ran == 0 and "rollout stopped after lab1 failed" in nxt.logged[0]


def test_rollout_goes_on_after_a_rejected_candidate():
    state = SimpleNamespace()
    rejected = FakeRunHost("lab1", ["dockwright-result: rejected"], False)
    assert docker._apply(state, rejected, "script") is False
    ok = FakeRunHost("lab2", ["dockwright-result: applied"], True)
    assert docker._apply(state, ok, "script") is True and ok.ran == 1


def test_swarm_join_reads_token_on_manager_and_hides_it():
    token = "SWMTKN-1-secret"
    manager = FakeRunHost("lab1", [token], True)
    manager.data = {"swarm": {"advertise_addr": "10.99.0.11"}}
    joined = []

    class Joiner(FakeRunHost):
        def run_shell_command(self, command, **kwargs):
            joined.append(command)
            return True, SimpleNamespace(stderr_lines=[])

    assert swarm._join(SimpleNamespace(), Joiner("lab2", [], True), manager, "worker", "10.99.0.12")
    shown = str(joined[0])
    assert token not in shown and "10.99.0.11:2377" in shown
    assert token in joined[0].get_raw_value()


def test_join_when_member_of_another_swarm_is_refused():
    manager = SimpleNamespace(data={"swarm": {"advertise_addr": "10.99.0.11"}},
                              get_fact=lambda cls: {"cluster_id": "abc"})
    with pytest.raises(OperationError, match="member of another swarm"):
        run(swarm.join, {"SwarmState": {"state": "active", "cluster_id": None, "manager": False,
                                        "remote_managers": ["10.1.1.1:2377"]}},
            manager=manager, role="worker", advertise_addr="10.99.0.12")


def test_join_when_already_in_this_swarm_is_a_noop():
    manager = SimpleNamespace(data={"swarm": {"advertise_addr": "10.99.0.11"}},
                              get_fact=lambda cls: {"cluster_id": "abc"})
    commands, fake = run(swarm.join, {"SwarmState": {"state": "active", "cluster_id": None, "manager": False,
                                                     "remote_managers": ["10.99.0.11:2377"]}},
                         manager=manager, role="worker", advertise_addr="10.99.0.12")
    assert commands == [] and "already a swarm worker" in fake.noops


def test_engine_versions_with_the_cleartext_overlay_bug_are_refused():
    assert swarm.engine_problem((20, 10, 23))
    assert swarm.engine_problem((23, 0, 2))
    assert swarm.engine_problem((20, 10, 24)) is None
    assert swarm.engine_problem((26, 1, 5)) is None
