"""Recreating a network with containers attached: aliases and static addresses survive, and a
failed create puts the old network back."""

import json

from dockwright.operations import networks

from .harness import FakeHost, answers

INSPECT = json.dumps([{
    "Id": "0123456789abcdef", "Name": "/api",
    "NetworkSettings": {"Networks": {"backend": {
        "Aliases": ["api-svc", "0123456789ab", "api"],
        "IPAMConfig": {"IPv4Address": "10.6.0.50"}}}},
}])


def scripted(table: dict) -> FakeHost:
    """A host answering each command by the first matching prefix: {prefix: (ok, output text)}."""
    return FakeHost(name="h1", answer=answers({k: (ok, out.splitlines()) for k, (ok, out) in table.items()}))


def test_endpoint_configs_keep_user_aliases_and_static_addresses():
    confs = networks.endpoint_configs(INSPECT, "backend")
    assert confs == {"api": {"aliases": ["api-svc"], "ipv4": "10.6.0.50", "ipv6": None}}


JOURNAL = "/var/lib/dockwright/networks/backend.json"
WRITE = f"install -d -m 0700 /var/lib/dockwright/networks && umask 077 && cat > {JOURNAL}.tmp && mv -fT {JOURNAL}.tmp {JOURNAL}"
PS = "ids=$(docker ps -aq --no-trunc) && { [ -z \"$ids\" ] && echo '[]' || docker inspect $ids; }"
NOT_ON = "docker inspect --format '{{json .NetworkSettings.Networks}}' api"


def test_recreate_journals_then_reconnects_with_aliases_and_ip_when_it_fits():
    h = scripted({PS: (True, INSPECT), NOT_ON: (True, "{}")})
    old = {"subnet": "10.6.0.0/16"}
    assert networks._recreate(None, h, "backend", "bridge", {"subnet": "10.6.0.0/16", "mtu": 1400}, old, ["api"])
    assert h.commands() == [
        PS, WRITE,  # journaled before the first disconnect
        "docker network disconnect --force backend api",
        "docker network rm backend",
        "docker network create --driver bridge --subnet 10.6.0.0/16 --opt com.docker.network.driver.mtu=1400 backend",
        NOT_ON,
        "docker network connect --alias api-svc --ip 10.6.0.50 backend api",
        f"rm -f {JOURNAL}",  # every container back: the journal goes
    ]
    journal = json.loads(dict(h.ran)[WRITE]["_stdin"])
    assert journal["endpoints"] == {"api": {"aliases": ["api-svc"], "ipv4": "10.6.0.50", "ipv6": None}}


def test_a_stopped_container_on_the_network_is_found_and_kept_without_running_ones():
    h = scripted({PS: (True, INSPECT), NOT_ON: (True, "{}")})
    assert networks._recreate(None, h, "backend", "bridge", {"subnet": "10.6.0.0/16"}, {"subnet": "10.6.0.0/16"}, [])
    assert "docker network disconnect --force backend api" in h.commands()
    assert "docker network connect --alias api-svc --ip 10.6.0.50 backend api" in h.commands()


def test_nothing_attached_means_no_journal():
    h = scripted({PS: (True, "[]")})
    assert networks._recreate(None, h, "backend", "bridge", {"subnet": "10.6.0.0/16"}, {"subnet": "10.7.0.0/16"}, [])
    assert h.commands() == [PS, "docker network rm backend", "docker network create --driver bridge --subnet 10.6.0.0/16 backend"]


def test_a_failed_reconnect_keeps_the_journal_for_the_next_run():
    h = scripted({PS: (True, INSPECT), NOT_ON: (True, "{}"),
                      "docker network connect": (False, "")})
    assert networks._recreate(None, h, "backend", "bridge", {"subnet": "10.6.0.0/16"}, {"subnet": "10.6.0.0/16"},
                              ["api"]) is False
    assert f"rm -f {JOURNAL}" not in h.commands() and WRITE in h.commands()


def test_the_next_run_reconnects_from_the_journal_skipping_those_back_or_gone():
    endpoints = {"api": {"aliases": ["api-svc"], "ipv4": "10.5.0.50", "ipv6": "fd00::50"},
                 "back": {"aliases": [], "ipv4": None, "ipv6": None},
                 "gone": {"aliases": [], "ipv4": None, "ipv6": None}}
    on = "docker inspect --format '{{json .NetworkSettings.Networks}}' "
    h = scripted({on + "api": (True, "{}"), on + "back": (True, '{"backend": {}}'), on + "gone": (False, "")})
    assert networks._reconnect(None, h, "backend", {"subnet": "10.5.0.0/16"}, endpoints)
    # IPv4 kept (inside the subnet); no --ip6 on a network without IPv6
    assert [c for c in h.commands() if "network connect" in c] == ["docker network connect --alias api-svc --ip 10.5.0.50 backend api"]
    assert h.commands()[-1] == f"rm -f {JOURNAL}" and any("gone no longer exists" in m for m in h.logged)


def test_recreate_drops_a_static_ip_outside_the_new_subnet_and_says_so():
    h = scripted({PS: (True, INSPECT), NOT_ON: (True, "{}")})
    assert networks._recreate(None, h, "backend", "bridge", {"subnet": "10.5.0.0/16"}, {"subnet": "10.6.0.0/16"}, ["api"])
    assert "docker network connect --alias api-svc backend api" in h.commands()
    assert any("outside the new subnet" in m for m in h.logged)


def test_failed_create_restores_the_old_network_and_reconnects():
    new = "docker network create --driver bridge --subnet 10.7.0.0/16 backend"
    h = scripted({PS: (True, INSPECT), NOT_ON: (True, "{}"), new: (False, "")})
    assert networks._recreate(None, h, "backend", "bridge", {"subnet": "10.7.0.0/16"},
                              {"subnet": "10.6.0.0/16"}, ["api"]) is False
    assert h.commands()[4:] == [
        new,
        "docker network create --driver bridge --subnet 10.6.0.0/16 backend",
        NOT_ON,
        "docker network connect --alias api-svc --ip 10.6.0.50 backend api",
        f"rm -f {JOURNAL}",
    ]
    assert any("restoring the previous network" in m for m in h.logged)


def test_membership_is_exact_never_a_prefix_of_another_networks_id():
    """A network named "cafe" must not take in the containers of a network whose ID starts with
    "cafe" (Docker's ps filter would): membership is each container's own list of networks."""
    others = json.dumps([
        {"Id": "1" * 64, "Name": "/db", "NetworkSettings": {"Networks": {"other": {"NetworkID": "cafe" + "0" * 60}}}},
        {"Id": "2" * 64, "Name": "/api", "NetworkSettings": {"Networks": {"cafe": {"Aliases": ["api-svc"],
                                                                                "NetworkID": "b" * 64}}}},
        {"Id": "3" * 64, "Name": "/stopped", "State": {"Running": False},
         "NetworkSettings": {"Networks": {"cafe": {"NetworkID": "b" * 64}}}},
    ])
    assert networks.attached_to(others, "cafe") == ["api", "stopped"]
    h = scripted({PS: (True, others), NOT_ON: (True, "{}"), "docker inspect --format": (True, "{}")})
    assert networks._recreate(None, h, "cafe", "bridge", {"subnet": "10.6.0.0/16"}, {"subnet": "10.6.0.0/16"}, [])
    assert [c for c in h.commands() if "disconnect" in c] == ["docker network disconnect --force cafe api",
                                                             "docker network disconnect --force cafe stopped"]
    journal = json.loads(next(kw["_stdin"] for c, kw in h.ran if c.startswith("install -d")))
    assert sorted(journal["endpoints"]) == ["api", "stopped"]
