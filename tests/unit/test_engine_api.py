"""The facts' Engine API client (dockerd.API_CLIENT), run here by python3 against a socket that
answers as dockerd does: what it prints is what the CLI command it stands for prints, and a
daemon that does not answer is Down, never an empty answer."""

import json
import os
import shlex
import socket
import subprocess
import threading

import pytest

from dockwright import dockerd
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
    client = dockerd.API_CLIENT.replace("/var/run/docker.sock", str(sock_path))
    res = subprocess.run(f"python3 -c {shlex.quote(client)} {what}", shell=True, capture_output=True,
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
