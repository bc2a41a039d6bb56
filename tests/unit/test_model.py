"""Merge rules of the desired-state model, on real pyinfra inventories."""


from pyinfra.api import Inventory

from dockwright import model, schema

from .helpers import GROUP_DATA, group_data


def test_dicts_merge_at_every_depth_and_lists_replace():
    base = {"a": {"b": {"c": 1, "d": 2}, "l": [1, 2]}, "x": 1}
    over = {"a": {"b": {"d": 3}, "l": [9]}}
    assert model.deep_merge(base, over) == {"a": {"b": {"c": 1, "d": 3}, "l": [9]}, "x": 1}
    assert base["a"]["b"]["d"] == 2  # inputs untouched


def test_scalar_replaces_dict_and_none_is_a_value():
    assert model.deep_merge({"a": {"b": 1}}, {"a": None}) == {"a": None}


def _inventory(host_data=None, override=None):
    return Inventory(
        (["h1", ("h2", host_data or {})], group_data("all")),
        prod=(["h1", "h2"], {"sysctl": {"settings": {"net.core.somaxconn": 4096}}}),
        standalone=(["h2"], group_data("standalone")),
        override_data=override,
    )


def test_layers_all_then_environment_then_roles_then_host():
    inv = _inventory(host_data={"sysctl": {"settings": {"net.core.somaxconn": 1024}}})
    h1, h2 = inv.get_host("h1"), inv.get_host("h2")
    d1, d2 = model.desired(h1), model.desired(h2)
    # prod overrides all, key by key; the other defaults stay
    assert d1["sysctl"]["settings"]["net.core.somaxconn"] == 4096
    assert d1["sysctl"]["settings"]["net.core.netdev_max_backlog"] == \
        group_data("all")["sysctl"]["settings"]["net.core.netdev_max_backlog"]
    # host data beats every group
    assert d2["sysctl"]["settings"]["net.core.somaxconn"] == 1024
    # a role group changes one daemon key and keeps the rest
    assert d2["docker"]["daemon"]["live-restore"] is True
    assert d1["docker"]["daemon"]["live-restore"] is False
    assert d2["docker"]["daemon"]["log-opts"] == group_data("all")["docker"]["daemon"]["log-opts"]


def test_override_data_wins():
    inv = _inventory(override={"concerns": {"verify": False}})
    d = model.desired(inv.get_host("h1"))
    assert d["concerns"]["verify"] is False
    assert d["concerns"]["sysctl"] is True


def test_only_concern_keys_are_merged():
    inv = _inventory(host_data={"ssh_port": 2222})
    assert "ssh_port" not in model.desired(inv.get_host("h2"))


def test_the_concerns_are_listed_once_and_all_py_switches_each():
    """The schema's CONCERNS and SECTIONS are the list: the model merges exactly those sections,
    and group_data/all.py gives every concern a switch and every section its defaults (so no
    default in code decides)."""
    assert schema.data_keys() == ("concerns", *schema.CONCERNS, *schema.SECTIONS)
    defaults = group_data("all")
    assert sorted(defaults["concerns"]) == sorted(schema.CONCERNS)
    assert all(c in defaults for c in (*schema.CONCERNS, *schema.SECTIONS))


def test_host_derived_values_are_resolved_in_one_place():
    desired = {"concerns": {"conntrack": True, "sysctl": True},
               "sysctl": {"settings": {"net.core.somaxconn": 65535}},
               "conntrack": {"max": "auto", "buckets": "auto", "timeouts": {"udp_timeout": 30}}}
    r = model.resolve(desired, {"cores": 8, "mem_bytes": 16 << 30})
    assert (r.conntrack_limit, r.conntrack_buckets) == (262144, 65536)
    assert r.sysctls == {"net.core.somaxconn": 65535, "net.netfilter.nf_conntrack_max": 262144,
                         "net.netfilter.nf_conntrack_udp_timeout": 30}
    # 1 GiB of RAM caps the table at 1/16 of it (320 bytes an entry); buckets follow.
    small = model.resolve(desired, {"cores": 8, "mem_bytes": 1 << 30})
    assert (small.conntrack_limit, small.conntrack_buckets) == (209715, 52428)
    off = model.resolve({**desired, "concerns": {"conntrack": False}}, None)
    assert (off.conntrack_limit, off.sysctls) == (None, {"net.core.somaxconn": 65535})


def test_every_inventory_file_names_an_environment_group():
    """Each inventory's own group (its file name) is listed in environment_groups, so its data
    comes before the role groups' (a group missing there would silently take role precedence)."""
    listed = group_data("all")["environment_groups"]
    for inventory in sorted((GROUP_DATA.parent / "inventories").glob("*.py")):
        assert inventory.stem in listed, f"{inventory.name}: add {inventory.stem!r} to environment_groups in group_data/all.py"


def test_environment_groups_come_from_the_data():
    """A group listed in environment_groups comes before the role groups; one not listed takes
    its place in inventory order (here, after the role group declared before it)."""
    defaults = {k: v for k, v in group_data("all").items()}
    for env_first in (True, False):
        data = {**defaults, "environment_groups": ["dev"] if env_first else []}
        inv = Inventory((["h1"], data), swarm_managers=(["h1"], {"sysctl": {"settings": {"net.core.somaxconn": 2}}}),
                        dev=(["h1"], {"sysctl": {"settings": {"net.core.somaxconn": 1}}}))
        h1 = inv.get_host("h1")
        order = [name for name, _ in model.layers(h1)]
        assert (order.index("group dev") < order.index("group swarm_managers")) is env_first, order
        assert model.desired(h1)["sysctl"]["settings"]["net.core.somaxconn"] == (2 if env_first else 1)
