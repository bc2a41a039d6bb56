"""Validation rules: every rule has a case that trips it, and the shipped data passes."""

import pytest

from dockwright import schema
from dockwright.model import deep_merge

from .helpers import group_data

# A host's state holds the concerns only (model.merge_layers); environment_groups is the
# inventory's, checked by validate_inventory_data.
ALL = {k: v for k, v in group_data("all").items() if k != "environment_groups"}


def problems(override, base=ALL):
    state = deep_merge(base, override)
    return [str(p) for p in schema.validate("h1", state)]


def test_shipped_defaults_and_groups_are_valid():
    for group in ("standalone", "swarm_managers", "swarm_workers"):
        state = deep_merge(ALL, group_data(group))
        if group.startswith("swarm"):
            state = deep_merge(state, {"swarm": {"advertise_addr": "10.0.0.1"}})
        assert schema.validate("h1", state) == []


@pytest.mark.parametrize("override,expected", [
    ({"sysctl": {"settings": {"net.core.somaxconn": "lots"}}},
     "h1: sysctl.settings.net.core.somaxconn = 'lots': expected an integer"),
    ({"sysctl": {"settings": {"net.core.somaxconn": True}}}, "expected an integer"),
    ({"sysctl": {"settings": {"Not A Key": 1}}}, "not a sysctl name"),
    ({"sysctl": {"on_override": "ignore"}}, "expected one of fail, takeover"),
    ({"sysctl": {"colour": "red"}}, "h1: sysctl.colour = 'red': unknown key"),
    ({"conntrack": {"max": 10}}, "conntrack.max = 10"),
    ({"conntrack": {"timeouts": {"tcp_timeout_forever": 1}}}, "expected one of"),
    ({"docker": {"daemon": {"live-restorez": True}}}, "did you mean 'live-restore'?"),
    ({"docker": {"daemon": {"log-opts": {"max-file": 3}}}}, "docker.daemon.log-opts.max-file = 3"),
    ({"docker": {"daemon": {"mtu": 70000}}}, "docker.daemon.mtu = 70000: expected 68..65535"),
    ({"docker": {"daemon": {"bip": "172.17.0.1"}}}, "docker.daemon.bip"),
    ({"docker": {"restart_batch": 0}}, "docker.restart_batch = 0"),
    ({"networks": {"bridges": {"b": {"subnet": "10.5.0.1/16"}}}}, "not a CIDR network"),
    ({"networks": {"bridges": {"b": {"subnet": "10.6.0.0/16", "gateway": "10.7.0.1"}}}},
     "networks.bridges.b.gateway = '10.7.0.1': not inside subnet 10.6.0.0/16"),
    ({"networks": {"bridges": {"b": {"subnet": "10.5.128.0/24"}}}},
     "overlaps networks.bridges.b.subnet = 10.5.128.0/24"),
    ({"docker": {"daemon": {"default-address-pools": [{"base": "10.5.0.0/8", "size": 24}]}}},
     "not a CIDR network"),
    ({"docker": {"daemon": {"default-address-pools": [{"base": "10.0.0.0/8", "size": 24}]}}},
     "overlaps docker.daemon.default-address-pools[0].base = 10.0.0.0/8"),
    ({"docker": {"daemon": {"bip": "10.5.3.1/24"}}}, "overlaps docker.daemon.bip"),
    ({"swarm": {"role": "manager", "advertise_addr": "10.0.0.1"},
      "docker": {"daemon": {"live-restore": True}}},
     "h1: docker.daemon.live-restore = True: dockerd refuses to start with live-restore in swarm mode"),
    ({"swarm": {"role": "worker"}}, "swarm.advertise_addr = None"),
    ({"swarm": {"role": "leader"}}, "expected one of manager, worker"),
    ({"sysctl": {"settings": {"net.ipv4.ip_forward": 0}}}, "Docker needs net.ipv4.ip_forward = 1"),
    ({"sysctl": {"settings": {"net.netfilter.nf_conntrack_max": 1}}}, "belong in conntrack"),
    ({"docker": {"passthrough": {"icc": True}}}, "also set in docker.daemon"),
    ({"apparmor": {"deny_network": ["tcp"]}}, "apparmor.deny_network[0]"),
    ({"seccomp": {"deny_socket_families": [17, 17]}}, "duplicate entries"),
    ({"concerns": {"kernel": True}}, "concerns.kernel = True: unknown key"),
])
def test_rule_reports_host_key_and_value(override, expected):
    found = problems(override)
    assert any(expected in p for p in found), found


def test_every_problem_is_listed_not_just_the_first():
    found = problems({"sysctl": {"colour": 1, "on_override": "x"}, "docker": {"mtu_typo": 1}})
    assert len(found) == 3


def test_error_message_lists_every_problem():
    err = schema.InvalidDesiredState([schema.Problem("lab2", "a.b", 1, "bad"),
                                      schema.Problem("lab3", "c", "x", "worse")])
    assert "2 problem(s)" in str(err) and "lab2: a.b = 1: bad" in str(err)
    assert "no host was changed" in str(err)


def test_cross_key_rules_still_run_next_to_type_errors():
    found = problems({"sysctl": {"settings": {"net.core.somaxconn": "lots"}},
                      "swarm": {"role": "worker", "advertise_addr": "10.0.0.2"},
                      "docker": {"daemon": {"live-restore": True}}})
    assert any("expected an integer" in p for p in found)
    assert any("live-restore in swarm mode" in p for p in found)


@pytest.mark.parametrize("inventory", ["inventories/prod.py", "inventories/staging.py"])
def test_example_inventories_resolve_to_valid_data_for_every_host(inventory):
    """Each example inventory with the shipped group_data: every host's merged data is valid."""
    import json
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-m", "dockwright.fleet_data", inventory, str(repo)], cwd=repo,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    hosts = json.loads(res.stdout)
    assert hosts
    problems = [str(p) for name, h in hosts.items() for p in schema.validate(name, h["desired"])]
    assert problems == []


def test_a_port_policy_rule_has_one_source_list_and_a_real_range():
    # Whether the host keeps a DOCKER-USER chain at all is the host's (test_preflight).
    rule = {"port": 8080, "allow_from": ["10.0.0.0/8"]}
    assert problems({"networks": {"port_policy": [rule]}}) == []
    both = problems({"networks": {"port_policy": [{"port": 1, "allow_from": [], "deny_from": []}]}})
    assert any("exactly one of allow_from" in p for p in both)
    assert any("1 <= LOW <= HIGH" in p for p in problems({"networks": {"port_policy": [{"port": "9-1", "deny_from": []}]}}))


SCOPED = ["::%1\n-I INPUT 1 -j ACCEPT\n-P INPUT ACCEPT\n#/0", "fe80::1%eth0", "10.0.0.1 ", "10.0.0.0/8\n"]


def test_ipv6_scope_ids_and_stray_characters_are_refused_in_every_address_field():
    """ipaddress accepts a scope ID holding a newline: each address field refuses it, naming
    the key and the value (it would otherwise add lines to ip6tables-restore's input)."""
    fields = {
        "networks.port_policy[0].allow_from[0]": lambda v: {"networks": {"port_policy": [{"port": 80, "allow_from": [v]}]}},
        "docker.daemon.dns[0]": lambda v: {"docker": {"daemon": {"dns": [v]}}},
        "swarm.advertise_addr": lambda v: {"swarm": {"role": "manager", "advertise_addr": v}},
        "networks.bridges.b.subnet": lambda v: {"networks": {"bridges": {"b": {"subnet": v}}}},
        "networks.bridges.b.gateway": lambda v: {"networks": {"bridges": {"b": {"subnet": "10.5.0.0/16", "gateway": v}}}},
        "docker.daemon.bip": lambda v: {"docker": {"daemon": {"bip": v}}},
    }
    for key, layer in fields.items():
        for bad in SCOPED:
            found = [p for p in schema.validate("h1", deep_merge(ALL, layer(bad))) if p.key == key]
            assert found and "scope IDs are refused" in found[0].why, (key, bad, found)
    ok = deep_merge(ALL, fields["docker.daemon.dns[0]"]("2001:DB8::1"))
    assert not [p for p in schema.validate("h1", ok) if p.key.startswith("docker.daemon.dns")]  # control


def test_the_firewall_never_renders_a_scope_id_even_past_validation():
    from dockwright.operations import firewall
    with pytest.raises(ValueError, match="scope IDs are refused"):
        firewall.render([{"port": 80, "allow_from": [SCOPED[0]]}], "ipv6")


def test_environment_groups_are_validated_although_they_never_merge_into_a_host():
    """merge_layers keeps only the concerns, so this key was never checked: a bad value now is."""
    bad = schema.validate_inventory_data({"environment_groups": ["prod", "x; rm -rf /", 3]})
    assert [(p.host, p.key) for p in bad] == [("all", "environment_groups[1]"), ("all", "environment_groups[2]")]
    assert schema.validate_inventory_data({"environment_groups": "prod"})[0].why == "expected a list"
    assert schema.validate_inventory_data(group_data("all")) == []  # control: the shipped data
