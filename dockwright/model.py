"""The desired state of one host: group_data layers deep-merged in a documented order, and the
values that depend on the host (conntrack's sizing, the owned sysctl file) resolved once."""

from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from .plans import conntrack, sysctl
from .schema import added_defaults, data_keys, enabled  # noqa: F401 (enabled: the model's word too)


def deep_merge(base: Any, override: Any) -> Any:
    """Dicts merge key by key at every depth; anything else in override replaces base whole.
    The result is a copy: nothing in it is shared with base or override."""
    return copied(_merged(base, override))


def _merged(base: Any, override: Any) -> Any:
    # New dicts where both sides have one; every other value is shared (the caller copies once).
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merged(out[key], value) if key in out else value
        return out
    return override


def layers(host) -> list[tuple[str, dict]]:
    """(source name, data) from lowest to highest precedence, as README "Data model" says."""
    inv = host.inventory
    found = [("registered defaults", added_defaults())] if added_defaults() else []
    found.append(("all", inv.get_data()))
    # Environment groups (group_data/all.py: environment_groups) are broad: before role groups.
    environments = inv.get_data().get("environment_groups") or ()
    env = [g for g in host.groups if g in environments]
    roles = [g for g in host.groups if g not in env and g != "all"]
    for group in env + roles:
        found.append((f"group {group}", inv.get_group_data(group)))
    found.append((f"host {host.name}", inv.get_host_data(host.name)))
    found.append(("override", inv.get_override_data() or {}))
    found.append(("override", host.data.override_datas))
    return found


def merge_layers(datas: list[dict]) -> dict:
    """The layers merged in order, copied once (the inventory's data is never shared with it)."""
    merged: dict = {}
    keys = data_keys()
    for data in datas:
        for key in keys:
            if key in data:
                merged[key] = _merged(merged[key], data[key]) if key in merged else data[key]
    return copied(merged)


_ATOMS = (str, int, float, bool, type(None))


def copied(value: Any) -> Any:
    """A copy of data (dicts, lists and tuples of plain values) that shares nothing mutable with
    it; anything else goes through deepcopy. Several times faster than deepcopy alone, which
    was half of what loading a 500-host inventory's desired state cost."""
    if isinstance(value, dict):
        return {k: copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copied(v) for v in value]
    if isinstance(value, tuple):
        return tuple(copied(v) for v in value)
    if isinstance(value, _ATOMS):
        return value
    return deepcopy(value)


def desired(host) -> dict:
    """Merged desired state for host (merged once per host object)."""
    from . import run
    from .pyinfra_context import unwrap
    host = unwrap(host)
    merged = run.of(host).desired
    if host not in merged:
        merged[host] = merge_layers([data for _, data in layers(host)])
    return merged[host]


def managed_sysctl_names(state: dict) -> tuple:
    """The names the SysctlState fact reads (the owned file's keys, without "-"): they do not
    depend on the host, only conntrack's values do."""
    names = set(state.get("sysctl", {}).get("settings", {}))
    if enabled(state, "conntrack"):
        names |= set(conntrack.sysctl_settings(state["conntrack"], 0))
    return sysctl.fact_keys(names)


@dataclass(frozen=True)
class Resolved:
    """What a host's desired state comes to on that host: conntrack's limit and hash buckets
    (None when conntrack is off) and every key of the owned sysctl file."""
    conntrack_limit: int | None
    conntrack_buckets: int | None
    sysctls: dict


def resolve(state: dict, conntrack_facts: dict | None) -> Resolved:
    """The host-derived values, from the data and the ConntrackState fact (cores, RAM): the
    one place conntrack's "auto" sizing is computed for the deploy, preflight and the bench."""
    settings = dict(state.get("sysctl", {}).get("settings", {}))
    limit = buckets = None
    if enabled(state, "conntrack") and conntrack_facts is not None:
        limit, buckets = conntrack.sizing(state["conntrack"], conntrack_facts["cores"], conntrack_facts["mem_bytes"])
        settings.update(conntrack.sysctl_settings(state["conntrack"], limit))
    return Resolved(limit, buckets, settings)
