"""The facts' Engine API client (the host reader's API ops, dockwright.host_reader), run here by python3 against a socket that
answers as dockerd does: what it prints is what the CLI command it stands for prints, and a
daemon that does not answer is Down, never an empty answer."""

import json
import os
import shlex
import socket
import subprocess
import threading

import pytest

from dockwright import dockerd, host_reader
from dockwright.facts import engine as fengine
from dockwright.facts import networks as fnetworks

NET = {"Name": "backend", "Id": "n1", "Driver": "bridge", "Scope": "local", "Internal": False,
       "Attachable": False, "EnableIPv6": False, "Options": {"com.docker.network.driver.mtu": "1450"},
       "Labels": {}, "IPAM": {"Config": [{"Subnet": "10.5.0.0/16", "Gateway": "10.5.0.1"}]},
       "Containers": {"c1": {"Name": "web"}}}


class FakeDockerd:
    """A unix socket answering HTTP/1.0 GETs from a {path: (status, body)} table."""

    def __init__(self, path, answers):
        self.answers, self.asked = answers, []
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(65536).decode()
                path = request.split()[1]
                self.asked.append(path)
                status, body = self.answers.get(path, (404, {"message": "not found"}))
                text = json.dumps(body)
                conn.sendall(f"HTTP/1.0 {status} X\r\nContent-Type: application/json\r\n\r\n{text}".encode())


def ask(sock_path, what):
    client = host_reader.READER.replace("/var/run/docker.sock", str(sock_path))
    res = subprocess.run(f"python3 -c {shlex.quote(client)} - {what}", shell=True, capture_output=True,
                         text=True, timeout=60, env={"PATH": os.environ["PATH"]})
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def test_networks_are_listed_then_each_inspected_and_one_gone_meanwhile_is_left_out(tmp_path):
    fake = FakeDockerd(tmp_path / "d.sock", {
        "/networks": (200, [{"Id": "n1", "Name": "backend"}, {"Id": "n2", "Name": "gone"}]),
        "/networks/n1": (200, NET)})
    out = ask(tmp_path / "d.sock", "networks")
    assert json.loads(out[0]) == [NET] and fake.asked == ["/networks", "/networks/n1", "/networks/n2"]
    view = fnetworks.DockerNetworks().process(out)
    assert view["backend"]["subnet"] == "10.5.0.0/16" and view["backend"]["mtu"] == 1450


def test_the_swarm_section_is_what_docker_info_prints(tmp_path):
    section = {"LocalNodeState": "active", "NodeID": "x1", "ControlAvailable": True,
               "Cluster": {"ID": "c9"}, "NodeAddr": "10.99.0.11", "RemoteManagers": [{"Addr": "10.99.0.11:2377"}]}
    FakeDockerd(tmp_path / "d.sock", {"/info": (200, {"ServerVersion": "26.1.5", "Swarm": section})})
    out = ask(tmp_path / "d.sock", "swarm")
    state = fengine.SwarmState().process(out)
    assert state["state"] == "active" and state["cluster_id"] == "c9" and state["manager"] is True


@pytest.mark.parametrize("answers,why", [
    (None, "FileNotFoundError"),  # no socket: dockerd stopped
    ({"/info": (500, {"message": "boom"})}, "the Engine API answered HTTP 500 to GET /info"),
])
def test_a_daemon_that_does_not_answer_is_down_never_empty(tmp_path, answers, why):
    if answers is not None:
        FakeDockerd(tmp_path / "d.sock", answers)
    for what, fact in (("swarm", fengine.SwarmState), ("networks", fnetworks.DockerNetworks)):
        if what == "networks" and answers is not None:
            answers["/networks"] = (500, {})
            why = "HTTP 500 to GET /networks"
        answer = fact().process(ask(tmp_path / "d.sock", what))
        assert isinstance(answer, dockerd.Down) and why in answer.why, answer


def test_the_cli_stands_in_where_there_is_no_python3_or_another_daemon_is_named():
    command = fnetworks.DockerNetworks().command()
    assert command.startswith('if [ -z "${DOCKER_HOST:-}" ] && command -v python3')
    assert "else ids=$(timeout -k 5 60 docker network ls -q" in command
    assert "docker info --format" in fengine.SwarmState().command().split("; else ", 1)[1]


def test_the_swarm_section_is_found_by_the_json_scanner_not_by_its_text(tmp_path):
    # Strings holding the member's name, nested objects and odd spacing before the real member.
    section = {"LocalNodeState": "inactive", "NodeID": ""}
    body = ('{ "Name": "\\"Swarm\\": {\\"LocalNodeState\\": \\"active\\"}", "Labels": {"Swarm": "x"},\n'
            '  "Plugins": {"Volume": ["local"], "N": [1, 2.5, null, true]} ,\t"Swarm" :  '
            + json.dumps(section) + ', "ServerVersion": "28.5.2"}')
    path = tmp_path / "d.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(f"HTTP/1.0 200 OK\r\n\r\n{body}".encode())
    threading.Thread(target=serve, daemon=True).start()
    out = ask(path, "swarm")
    assert json.loads(out[0]) == section
    assert fengine.SwarmState().process(out)["state"] == "inactive"


def test_the_client_imports_no_python_module_beyond_c_builtins(tmp_path):
    FakeDockerd(tmp_path / "d.sock", {"/networks": (200, [{"Id": "n1", "Name": "backend"}]),
                                      "/networks/n1": (200, NET)})
    client = host_reader.READER.replace("/var/run/docker.sock", str(tmp_path / "d.sock"))
    check = client + "\nimport sys; print(sorted(m for m in ('re', 'json', 'socket', 'enum', 'signal') if m in sys.modules))"
    res = subprocess.run(["python3", "-I", "-S", "-c", check, "-", "networks"], capture_output=True, text=True, timeout=60)
    assert res.stdout.splitlines()[-1] == "[]", res.stdout + res.stderr


def test_a_daemon_that_hangs_is_down_when_the_clients_alarm_ends_it(tmp_path):
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "d.sock"))
    server.listen(1)  # accepts into the backlog and never answers
    client = host_reader.READER.replace("/var/run/docker.sock", str(tmp_path / "d.sock"))
    client = client.replace(f"_signal.alarm({host_reader.BOUND})", "_signal.alarm(1)")
    command = dockerd.api_or_cli("swarm", "false").replace(shlex.quote(host_reader.READER), shlex.quote(client))
    res = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)
    assert fengine.SwarmState().process(res.stdout.splitlines()) == dockerd.Down(f"timed out after {dockerd.BOUND} s")


def _shared(sock_path, alarm=None) -> tuple[list, list[str]]:
    """The shared read of both Engine API facts, run here against sock_path: (facts, outputs)."""
    facts = [fnetworks.DockerNetworks(), fengine.SwarmState()]
    client = host_reader.READER.replace("/var/run/docker.sock", str(sock_path))
    if alarm:
        client = client.replace(f"_signal.alarm({host_reader.BOUND})", f"_signal.alarm({alarm})")
    command = host_reader.READ.command([(f, {}) for f in facts]).replace(shlex.quote(host_reader.READER), shlex.quote(client))
    res = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return facts, host_reader.READ.split(res.stdout.splitlines(), [(f, {}) for f in facts])


SECTION = {"LocalNodeState": "active", "NodeID": "x1", "ControlAvailable": False, "Cluster": {"ID": "c9"},
           "NodeAddr": "10.99.0.12", "RemoteManagers": [{"Addr": "10.99.0.11:2377"}]}


def test_one_interpreter_answers_both_facts_as_each_alone_would(tmp_path):
    fake = FakeDockerd(tmp_path / "d.sock", {"/networks": (200, [{"Id": "n1", "Name": "backend"}]),
                                             "/networks/n1": (200, NET), "/info": (200, {"Swarm": SECTION})})
    facts, outputs = _shared(tmp_path / "d.sock")
    assert fake.asked == ["/networks", "/networks/n1", "/info"]
    shared = [f.process(out) for f, out in zip(facts, outputs)]
    assert shared == [fnetworks.DockerNetworks().process(ask(tmp_path / "d.sock", "networks")),
                      fengine.SwarmState().process(ask(tmp_path / "d.sock", "swarm"))]
    assert shared[1]["state"] == "active" and shared[0]["backend"]["mtu"] == 1450


def test_a_part_the_shared_read_never_reached_is_down_never_empty(tmp_path):
    # /info fails after the networks were read: the networks stand, the swarm is Down.
    FakeDockerd(tmp_path / "d.sock", {"/networks": (200, []), "/info": (500, {"message": "boom"})})
    facts, outputs = _shared(tmp_path / "d.sock")
    assert facts[0].process(outputs[0]) == {}
    assert isinstance(facts[1].process(outputs[1]), dockerd.Down)
    # The daemon hangs on the first part: the alarm ends the client, and both are Down.
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "h.sock"))
    server.listen(1)
    facts, outputs = _shared(tmp_path / "h.sock", alarm=1)
    assert [f.process(out) for f, out in zip(facts, outputs)] == [dockerd.Down(f"timed out after {dockerd.BOUND} s")] * 2
    # Nothing at all came back: each part is Down, not "no networks" or "not in a swarm".
    assert all(isinstance(f.process(out), dockerd.Down) for f, out in zip(facts, host_reader.READ.split([], [(f, {}) for f in facts])))
