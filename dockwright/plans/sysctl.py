"""The sysctl plan: the owned file, the keys other files override at boot, the live values."""

from dataclasses import dataclass, field

from . import Plan

# Keys of a module loaded during the run (conntrack): missing before it is not an error.
LATE_KEYS = "net.netfilter."


def normalize(value) -> str:
    """Kernel output uses tabs between fields of multi-value keys; compare on single spaces."""
    return " ".join(str(value).split())


def fact_keys(settings) -> tuple:
    """The SysctlState argument for these settings: their names without "-", sorted (the
    fact cache's key, so every caller must build it here)."""
    return tuple(sorted({k.lstrip("-") for k in settings}))


def boot_effective(state: dict, keys) -> dict:
    """key -> (value, path of the file that sets it last) after a reboot, for the given keys."""
    wanted = {k.lstrip("-") for k in keys}
    result = {}
    for path, key, value in state["files"]:
        if key in wanted:
            result[key] = (value, path)
    return result


def overrides(state: dict, settings: dict, own_file: str) -> list[tuple[str, str, str, str]]:
    """(key, file, its value, ours) for every key another file sets after ours at boot."""
    found = []
    effective = boot_effective(state, settings)
    for key, value in settings.items():
        name = key.lstrip("-")
        if name in effective:
            boot_value, path = effective[name]
            if path != own_file and boot_value != normalize(value):
                found.append((name, path, boot_value, normalize(value)))
    return found


@dataclass
class SysctlPlan(Plan):
    write: bool = False  # the owned file's content differs (or it is not read at boot)
    takeover: dict = field(default_factory=dict)  # other file -> our keys to comment out there
    live: dict = field(default_factory=dict)  # key (as in settings) -> value, to set now


def plan(settings: dict, path: str, on_override: str, state: dict, late_ok: bool = True) -> SysctlPlan:
    """
    settings as the owned file holds them ("-key": may be missing), against the SysctlState
    fact. A required key the kernel lacks is a problem; an override at boot is a refusal in
    ``fail`` mode and a takeover otherwise. With ``late_ok``, net.netfilter keys missing now are
    expected (nf_conntrack is loaded earlier in the run) and are written and set anyway.
    """
    p = SysctlPlan()
    late = lambda key: late_ok and key.startswith(LATE_KEYS)  # noqa: E731
    for key, value in sorted(settings.items()):
        if not key.startswith("-") and key in state["missing"] and not late(key):
            p.problem(key, value, "the kernel has no such key (write -key if it may be missing)")

    ours_now = {key: value for f, key, value in state["files"] if f == path}
    want = {k.lstrip("-"): normalize(v) for k, v in settings.items()}
    p.write = ours_now != want or path not in state["paths"]
    for key in sorted(set(want) | set(ours_now)):
        if want.get(key) != ours_now.get(key):
            p.differs(f"{path}: {key}", want.get(key), ours_now.get(key))

    if state.get("odd"):
        p.refusal = ("a sysctl file in " + ", ".join(state["odd"]) + " has a newline, a colon or a "
                     "control character in its name, so dockwright cannot read it safely: rename it")
        return p
    found = overrides(state, settings, path)
    links = state.get("links", {})
    through = sorted({(f, links[f]) for _, f, _, _ in found if f in links})
    if found and on_override == "fail":
        p.refusal = "a later sysctl file overrides dockwright at boot: " + "; ".join(
            f"{f} sets {k} = {v} (dockwright: {o})" for k, f, v, o in found)
    elif through:
        p.refusal = ("a later sysctl file that overrides dockwright at boot is a symlink; dockwright "
                     "does not write through symlinks: " + "; ".join(
                         f"{f} -> {t}: edit {t} or replace the link" for f, t in through))
    for key, other, value, ours in found:
        p.takeover.setdefault(other, []).append(key)
        p.differs(f"boot: {key} overridden by {other}", ours, value)

    for key, value in sorted(settings.items()):
        name = key.lstrip("-")
        present = name not in state["missing"] or late(key)
        if present and state["live"].get(name) != normalize(value):
            p.live[key] = value
            p.differs(f"live: {name}", normalize(value), state["live"].get(name))
    return p
