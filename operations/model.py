"""The desired state of one host: group_data layers deep-merged in a documented order."""

import weakref
from copy import deepcopy
from typing import Any

CONCERN_KEYS = ("concerns", "sysctl", "conntrack", "docker", "seccomp", "apparmor", "networks",
                "swarm", "verify")


def deep_merge(base: Any, override: Any) -> Any:
    """Dicts merge key by key at every depth; anything else in override replaces base whole."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = {k: deepcopy(v) for k, v in base.items()}
        for key, value in override.items():
            out[key] = deep_merge(out[key], value) if key in out else deepcopy(value)
        return out
    return deepcopy(override)


def layers(host) -> list[tuple[str, dict]]:
    """(source name, data) from lowest to highest precedence, as README "Data model" says."""
    inv = host.inventory
    found = [("all", inv.get_data())]
    # The inventory file's own group (e.g. prod) is broad, so it comes before role groups.
    env = [g for g in host.groups if g in ("prod", "staging", "lab")]
    roles = [g for g in host.groups if g not in env and g != "all"]
    for group in env + roles:
        found.append((f"group {group}", inv.get_group_data(group)))
    found.append((f"host {host.name}", inv.get_host_data(host.name)))
    found.append(("override", inv.get_override_data() or {}))
    found.append(("override", host.data.override_datas))
    return found


def merge_layers(datas: list[dict]) -> dict:
    merged: dict = {}
    for data in datas:
        for key in CONCERN_KEYS:
            if key in data:
                merged[key] = deep_merge(merged[key], data[key]) if key in merged else deepcopy(data[key])
    return merged


# Merged state per host object, for as long as the host exists (weakly: nothing is hung on
# pyinfra's objects).
_DESIRED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def desired(host) -> dict:
    """Merged desired state for host (merged once per host object)."""
    from .factcache import real
    host = real(host)
    if host not in _DESIRED:
        _DESIRED[host] = merge_layers([data for _, data in layers(host)])
    return _DESIRED[host]


def enabled(state: dict, concern: str) -> bool:
    return bool(state.get("concerns", {}).get(concern, False))


def managed_sysctl_names(state: dict) -> tuple:
    """The names the SysctlState fact reads (the owned file's keys, without "-"): they do not
    depend on the host, only conntrack's values do."""
    from . import conntrack, sysctl

    names = set(state.get("sysctl", {}).get("settings", {}))
    if enabled(state, "conntrack"):
        names |= set(conntrack.sysctl_settings(state["conntrack"], 0))
    return sysctl.fact_keys(names)


def managed_sysctls(state: dict, conntrack_facts: dict | None) -> dict:
    """Keys of the owned sysctl file: sysctl.settings plus conntrack's limit and timeouts
    (sized from the host's cores and memory, hence the ConntrackState fact)."""
    from . import conntrack

    settings = dict(state.get("sysctl", {}).get("settings", {}))
    if enabled(state, "conntrack") and conntrack_facts is not None:
        limit, _ = conntrack.sizing(state["conntrack"], conntrack_facts["cores"],
                                    conntrack_facts["mem_bytes"])
        settings.update(conntrack.sysctl_settings(state["conntrack"], limit))
    return settings
