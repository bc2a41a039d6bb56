"""Merge rules of the desired-state model, on real pyinfra inventories."""

import runpy
from pathlib import Path

from pyinfra.api import Inventory

from operations import model

GROUP_DATA = Path(__file__).resolve().parents[2] / "group_data"


def group_data(name: str) -> dict:
    return {k: v for k, v in runpy.run_path(str(GROUP_DATA / f"{name}.py")).items()
            if not k.startswith("_")}


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
