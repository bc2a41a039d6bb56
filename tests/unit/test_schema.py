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


KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZx\n-----END PGP PUBLIC KEY BLOCK-----\n"


def _repo(tmp_path, **repository):
    key = tmp_path / "docker.asc"
    key.write_text(KEY)
    return {"docker": {"source": "repository", "repository": {"url": "https://packages.example/linux/{id}",
                                                             "key": str(key), **repository}}}


def test_a_repository_with_its_key_is_valid(tmp_path):
    assert problems(_repo(tmp_path)) == []
    assert problems(deep_merge(_repo(tmp_path), {"docker": {"version": "5:28.5.*"}})) == []


@pytest.mark.parametrize("repository,expected", [
    ({"url": ""}, "h1: docker.repository.url = '': expected the repository's http(s) URL"),
    ({"url": "ftp://x/y"}, "docker.repository.url = 'ftp://x/y'"),
    ({"url": "https://x/y\nz"}, "docker.repository.url"),
    ({"key": ""}, "docker.repository.key = '': a repository needs its signing key"),
    ({"key": "/nonexistent/docker.asc"}, "docker.repository.key = '/nonexistent/docker.asc': cannot read it"),
    ({"suite": "bad suite"}, "docker.repository.suite = 'bad suite'"),
])
def test_repository_rules_name_host_key_and_value(tmp_path, repository, expected):
    found = problems(deep_merge(_repo(tmp_path), {"docker": {"repository": repository}}))
    assert any(expected in p for p in found), found


def test_a_password_in_the_repository_url_is_refused_and_never_shown(tmp_path):
    found = problems(deep_merge(_repo(tmp_path), {"docker": {"repository": {"url": "https://me:s3cret@packages.example/x"}}}))
    assert any("credentials do not go in the URL" in p for p in found), found
    assert "s3cret" not in " ".join(found) and "https://***@packages.example/x" in " ".join(found)


def test_a_key_that_is_not_an_armored_public_key_is_refused(tmp_path):
    (tmp_path / "binary.gpg").write_bytes(b"\x99\x01\x0d\x04binary")
    found = problems(deep_merge(_repo(tmp_path), {"docker": {"repository": {"key": str(tmp_path / "binary.gpg")}}}))
    assert any("not an ASCII-armored OpenPGP public key" in p for p in found), found


@pytest.mark.parametrize("version", ["latest", "28.5.1; rm -rf /", " 28.5.1", "28.5.1\n"])
def test_engine_versions_are_package_versions(version):
    found = problems({"docker": {"version": version}})
    assert any("docker.version" in p for p in found), found


def test_the_repository_is_checked_only_when_it_is_the_source():
    assert problems({"docker": {"repository": {"url": "not a url", "key": ""}}}) == []


def test_data_written_before_the_engine_source_keys_is_stopped_naming_each():
    """A fleet's group_data/all.py from before docker.source existed: named, not a traceback."""
    old = {k: v for k, v in ALL.items()}
    old["docker"] = {k: v for k, v in ALL["docker"].items() if k not in ("source", "repository", "version", "hold")}
    found = [str(p) for p in schema.validate("h1", old)]
    for key in ("source", "repository", "version", "hold"):
        assert any(f"h1: docker.{key} = None: required key is missing" in p for p in found), found


@pytest.mark.parametrize("url", ["https://h/{x}", "https://h/{id", "https://h/{id!r}", "https://h/{codename:>9}"])
def test_a_repository_url_takes_only_its_two_placeholders(tmp_path, url):
    found = problems(deep_merge(_repo(tmp_path), {"docker": {"repository": {"url": url}}}))
    assert any("docker.repository.url" in p and "no other braces" in p for p in found), found
