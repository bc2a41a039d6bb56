"""Operations whose commands are Python callbacks: the daemon rollout and the swarm join."""

import json
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
            joined.append((command, kwargs))
            return True, SimpleNamespace(stderr_lines=[])

    assert swarm._join(SimpleNamespace(), Joiner("lab2", [], True), manager, "worker", "10.99.0.12")
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
