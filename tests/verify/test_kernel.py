"""Kernel tuning: live and boot-effective sysctls, conntrack, and what containers see."""

import pytest

from operations import conntrack, model, sysctl


def _settings(target):
    facts = target.fact(conntrack.ConntrackState) if model.enabled(target.desired, "conntrack") else None
    return model.managed_sysctls(target.desired, facts), facts


def test_sysctl_live_and_at_boot(target):
    if not model.enabled(target.desired, "sysctl"):
        pytest.skip("sysctl concern off for this host")
    settings, _ = _settings(target)
    state = target.fact(sysctl.SysctlState, keys=tuple(sorted(k.lstrip("-") for k in settings)))
    boot = sysctl.boot_effective(state, settings)
    own = target.desired["sysctl"]["file"]
    wrong = []
    for key, value in sorted(settings.items()):
        name, want = key.lstrip("-"), sysctl.normalize(value)
        if name in state["missing"]:
            if not key.startswith("-"):
                wrong.append(f"{name}: missing from the kernel")
            continue
        if state["live"].get(name) != want:
            wrong.append(f"{name}: live {state['live'].get(name)} != {want}")
        got, path = boot.get(name, (None, None))
        if got != want:
            wrong.append(f"{name}: after reboot {got} (from {path}) != {want}")
        elif path != own:
            wrong.append(f"{name}: boot value comes from {path}, not {own}")
    assert not wrong, "; ".join(wrong)


def test_conntrack_module_and_hash_size(target):
    if not model.enabled(target.desired, "conntrack"):
        pytest.skip("conntrack concern off for this host")
    facts = target.fact(conntrack.ConntrackState)
    _, buckets = conntrack.sizing(target.desired["conntrack"], facts["cores"], facts["mem_bytes"])
    assert facts["loaded"], "nf_conntrack is not loaded"
    assert facts["hashsize"] == buckets, f"hashsize {facts['hashsize']} != {buckets}"
    assert facts["modules_load"] and "nf_conntrack" in facts["modules_load"].split(), \
        f"{conntrack.MODULES_LOAD} does not load nf_conntrack at boot"
    assert facts["modprobe"] and f"hashsize={buckets}" in facts["modprobe"], \
        f"{conntrack.MODPROBE} does not set hashsize={buckets} at boot"


def test_container_view_of_per_namespace_keys(target):
    """Bridge-networked containers get the kernel default for per-namespace keys, not the host's;
    --sysctl gives a workload the tuned value. Shows both, and proves the --sysctl way works."""
    if not model.enabled(target.desired, "sysctl"):
        pytest.skip("sysctl concern off for this host")
    settings, _ = _settings(target)
    per_ns = {k.lstrip("-"): sysctl.normalize(v) for k, v in settings.items()
              if sysctl.per_namespace(k.lstrip("-")) and not k.lstrip("-").startswith("net.netfilter.")}
    if not per_ns:
        pytest.skip("no per-namespace keys managed")
    read = "; ".join(f"echo {k}=$(cat {sysctl.proc_path(k)} 2>/dev/null)" for k in sorted(per_ns))
    _, default_view = target.container("", read)
    flags = " ".join(f"--sysctl {k}={v.replace(' ', ',')}" for k, v in sorted(per_ns.items()))
    _, tuned_view = target.container(flags, read)
    print(f"{target.name}: container view without --sysctl: {default_view.split()}")
    tuned = dict(line.split("=", 1) for line in tuned_view.split())
    for key, want in per_ns.items():
        assert sysctl.normalize(tuned.get(key, "")) == want, f"--sysctl {key}={want} gave {tuned.get(key)}"
