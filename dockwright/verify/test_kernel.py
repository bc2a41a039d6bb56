"""Kernel tuning: live and boot-effective sysctls, conntrack, and what containers see."""

import fnmatch
import re

import pytest

from . import expect, snapshot


def _size(target) -> tuple[int, int]:
    """(cores, bytes of RAM), read here: conntrack's "auto" sizing depends on them."""
    cores, mem_kib = target.state()["size"].split()
    return int(cores), int(mem_kib) * 1024


def _settings(target) -> dict:
    return expect.sysctls(target.desired, *_size(target))


_flat = snapshot.flat


def boot_values(cat_config: str) -> dict[str, tuple[str, str]]:
    """{key: (value, file)} as systemd-sysctl applies them at boot, from the files systemd
    itself lists in its own order (`systemd-analyze cat-config sysctl.d`): the last assignment
    of a key wins; a glob counts only for keys no file names outright."""
    exact: dict[str, tuple[str, str]] = {}
    globs: list[tuple[str, str, str]] = []
    source = None
    for line in cat_config.splitlines():
        line = line.strip()
        m = re.fullmatch(r"# (/\S+\.conf)", line)
        if m:
            source = m.group(1)
            continue
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().lstrip("-").replace("/", ".")
        if "*" in key:
            globs.append((key, _flat(value), source))
        else:
            exact[key] = (_flat(value), source)
    return {"exact": exact, "globs": globs}


def boot_value(boot: dict, key: str) -> tuple[str | None, str | None]:
    if key in boot["exact"]:
        return boot["exact"][key]
    hits = [(v, src) for pattern, v, src in boot["globs"] if fnmatch.fnmatchcase(key, pattern)]
    return hits[-1] if hits else (None, None)


def test_sysctl_live_and_at_boot(target):
    """Live values read from /proc, boot values from systemd's own listing of sysctl.d in its
    own order: both judged against the data here, not by the deploy's sysctl model."""
    target.needs("sysctl")
    settings = _settings(target)
    state = target.state()
    live = {k: _flat(v) for k, v in snapshot.key_values(state["sysctl.live"]).items()}
    boot = boot_values(state["sysctl.d"])
    own = target.desired["sysctl"]["file"]
    wrong = []
    for key, value in sorted(settings.items()):
        name, want = key.lstrip("-"), _flat(value)
        if live.get(name) == "MISSING":
            if not key.startswith("-"):
                wrong.append(f"{name}: missing from the kernel")
            continue
        if live.get(name) != want:
            wrong.append(f"{name}: live {live.get(name)} != {want}")
        got, path = boot_value(boot, name)
        if got != want:
            wrong.append(f"{name}: after reboot {got} (from {path}) != {want}")
        elif path != own:
            wrong.append(f"{name}: boot value comes from {path}, not {own}")
    assert not wrong, "; ".join(wrong)


def test_conntrack_module_and_hash_size(target):
    """Loaded now with the hash size the data asks for, and at boot: systemd's own listing of
    modules-load.d names nf_conntrack, and modprobe's effective configuration sets the size."""
    _, buckets = expect.conntrack_limits(target.needs("conntrack"), *_size(target))
    state = target.state()
    live, loads, options = state["conntrack.hashsize"], state["modules-load.d"], state["modprobe.conntrack"]
    assert live.strip() != "not-loaded", "nf_conntrack is not loaded"
    assert live.strip() == str(buckets), f"hashsize {live.strip()} != {buckets}"
    listed = [w for line in loads.splitlines() if not line.startswith(("#", ";")) for w in line.split()]
    assert "nf_conntrack" in listed, "no modules-load.d file loads nf_conntrack at boot"
    sizes = re.findall(r"hashsize=(\d+)", options)
    assert sizes and sizes[-1] == str(buckets), f"at boot modprobe sets hashsize {sizes or 'nowhere'} (want {buckets})"


def test_container_view_of_per_namespace_keys(target):
    """A container sees, for each managed net.* key, what a fresh network namespace on this host
    gets from the kernel (not the host's tuned value); --sysctl gives a workload the tuned value.
    Which keys are per namespace is read from that fresh namespace."""
    target.needs("sysctl")
    per_ns = snapshot.per_namespace_tuned(target.desired, target.state())
    if not per_ns:
        pytest.skip("no per-namespace keys managed")
    fresh = snapshot.key_values(target.state()["sysctl.fresh-netns"])
    seen = snapshot.sysctls_seen(target.default_view())
    wrong = [f"{k}: container sees {seen.get(k)!r}, a fresh namespace gets {fresh[k]!r}"
             for k in sorted(per_ns) if _flat(seen.get(k, "")) != _flat(fresh[k])]
    tuned = snapshot.sysctls_seen(target.workload_view())
    wrong += [f"--sysctl {k}={want} gave {tuned.get(k)!r}" for k, want in sorted(per_ns.items())
              if _flat(tuned.get(k, "")) != want]
    assert not wrong, "; ".join(wrong)
