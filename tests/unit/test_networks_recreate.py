"""Recreating a network with containers attached: aliases and static addresses survive, and a
failed create puts the old network back."""

import json
from types import SimpleNamespace

from operations import networks

INSPECT = json.dumps([{
    "Id": "0123456789abcdef", "Name": "/api",
    "NetworkSettings": {"Networks": {"backend": {
        "Aliases": ["api-svc", "0123456789ab", "api"],
        "IPAMConfig": {"IPv4Address": "10.6.0.50"}}}},
}])


class ScriptedHost:
    """Answers each command by the first matching prefix; records what ran."""

    def __init__(self, answers):
        self.name, self.answers, self.ran, self.logged = "h1", answers, [], []

    def run_shell_command(self, command, **kwargs):
        text = command.get_raw_value()
        self.ran.append(text)
        for prefix, (ok, out) in self.answers.items():
            if text.startswith(prefix):
                return ok, SimpleNamespace(stdout_lines=out.splitlines(), stderr_lines=["boom"] if not ok else [])
        return True, SimpleNamespace(stdout_lines=[], stderr_lines=[])

    def log(self, msg, *a, **k):
        self.logged.append(msg)

    log_styled = log


def test_endpoint_configs_keep_user_aliases_and_static_addresses():
    confs = networks.endpoint_configs(INSPECT, "backend")
    assert confs == {"api": {"aliases": ["api-svc"], "ipv4": "10.6.0.50", "ipv6": None}}


def test_recreate_reconnects_with_aliases_and_ip_when_it_fits():
    h = ScriptedHost({"docker inspect": (True, INSPECT)})
    old = {"subnet": "10.6.0.0/16"}
    assert networks._recreate(None, h, "backend", "bridge", {"subnet": "10.6.0.0/16", "mtu": 1400}, old, ["api"])
    assert h.ran[1:] == [
        "docker network disconnect --force backend api",
        "docker network rm backend",
        "docker network create --driver bridge --subnet 10.6.0.0/16 --opt com.docker.network.driver.mtu=1400 backend",
        "docker network connect --alias api-svc --ip 10.6.0.50 backend api",
    ]


def test_recreate_drops_a_static_ip_outside_the_new_subnet_and_says_so():
    h = ScriptedHost({"docker inspect": (True, INSPECT)})
    assert networks._recreate(None, h, "backend", "bridge", {"subnet": "10.5.0.0/16"}, {"subnet": "10.6.0.0/16"}, ["api"])
    assert h.ran[-1] == "docker network connect --alias api-svc backend api"
    assert any("outside the new subnet" in m for m in h.logged)


def test_failed_create_restores_the_old_network_and_reconnects():
    new = "docker network create --driver bridge --subnet 10.7.0.0/16 backend"
    h = ScriptedHost({"docker inspect": (True, INSPECT), new: (False, "")})
    assert networks._recreate(None, h, "backend", "bridge", {"subnet": "10.7.0.0/16"},
                              {"subnet": "10.6.0.0/16"}, ["api"]) is False
    assert h.ran[3:] == [
        new,
        "docker network create --driver bridge --subnet 10.6.0.0/16 backend",
        "docker network connect --alias api-svc --ip 10.6.0.50 backend api",
    ]
    assert any("restoring the previous network" in m for m in h.logged)
