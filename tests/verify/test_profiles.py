"""seccomp and AppArmor, proven by what a container can and cannot do."""

import ipaddress
import json
import os
import re
import shlex

import pytest

from operations import model

from . import expect, snapshot
from .snapshot import BUILTIN_DENIED, FAMILIES_OK, FAMILY_NAMES


@pytest.fixture
def seccomp_on(target):
    conf = target.desired["seccomp"]
    if not (model.enabled(target.desired, "seccomp") and conf["default"]):
        pytest.skip("seccomp profile is not the daemon default on this host")
    return conf


def test_seccomp_default_profile_denies_what_data_asks(target, seccomp_on):
    denied = [FAMILY_NAMES[f] for f in seccomp_on["deny_socket_families"] if f in FAMILY_NAMES]
    got = target.default_view()  # probed under the daemon's defaults
    wrong = [f"socket {f}: {got[f'socket:{f}']}" for f in FAMILIES_OK if got[f"socket:{f}"] != "ok"]
    wrong += [f"socket {f}: {got[f'socket:{f}']} (want EPERM)" for f in denied if got[f"socket:{f}"] != "EPERM"]
    wrong += [f"{s}: {got[f'syscall:{s}']} (want denied)" for s in BUILTIN_DENIED
              if got[f"syscall:{s}"] not in ("EPERM", "ENOSYS")]
    assert not wrong, "; ".join(wrong)


def test_seccomp_control_builtin_profile_allows_af_packet(target, seccomp_on):
    """The same probe under Docker's built-in profile opens AF_PACKET: the check above can fail."""
    if 17 not in seccomp_on["deny_socket_families"]:
        pytest.skip("data does not deny AF_PACKET")
    # Engines before 25 have no "builtin" keyword; there the control runs without seccomp,
    # which shows the same thing (the probe opens AF_PACKET when our profile is not in force).
    out = target.run(" || ".join(target.probe_run(f"--rm --security-opt seccomp={p}", "socket:packet")
                                 for p in ("builtin", "unconfined"))).stdout
    got = snapshot.key_values(out)
    assert got.get("socket:packet") == "ok", got


def test_seccomp_profile_file_denies_what_data_asks(target, seccomp_on):
    """The profile file, judged from its JSON against the data (the behaviour: above)."""
    path = snapshot.files(target.desired)["seccomp"]
    meta, content = snapshot.file_of(target.state(), "seccomp")
    assert meta == "root root 644", f"{path}: {meta}"
    wrong = expect.seccomp_mismatches(seccomp_on, json.loads(content))
    assert not wrong, "; ".join(wrong)


@pytest.fixture
def aa(target):
    if not model.enabled(target.desired, "apparmor"):
        pytest.skip("apparmor concern off for this host")
    return target.desired["apparmor"]


def test_apparmor_profile_loaded_in_enforce_mode(target, aa):
    """Loaded in enforce mode, as the kernel lists it, and kept in /etc/apparmor.d for boot."""
    enabled, profiles = target.state()["apparmor.enabled"], target.state()["apparmor.profiles"]
    assert enabled.strip() == "Y", "AppArmor is not enabled"
    modes = [line[len(aa["name"]):].strip() for line in profiles.splitlines() if line.startswith(aa["name"] + " (")]
    assert modes == ["(enforce)"], f"{aa['name']} as the kernel lists it: {modes or 'not loaded'}"
    meta, content = snapshot.file_of(target.state(), "apparmor")
    assert meta and meta.startswith("root root "), f"/etc/apparmor.d/{aa['name']}: {meta}"
    assert re.search(rf"^profile {re.escape(aa['name'])}[ {{]", content, re.M), \
        f"/etc/apparmor.d/{aa['name']} does not declare profile {aa['name']}"


# deny_network entries the probe can try, and the probe's name for each.
AA_PROBES = {"inet-raw": "raw", "inet6-raw": "raw6", "packet": "packet"}
# What every program needs and the profile must leave alone: netlink (ip, getifaddrs) and unix.
AA_ALLOWED = ("socket:netlink", "socket:unix", "getifaddrs")
AA_DNS_NAME = f"dw-verify-aa-dns-{os.getpid()}"  # its own name: a stale container cannot clash
_AA_RUNS: dict[tuple[str, str], tuple[list[str], dict[str, str]]] = {}


def _bridge(target) -> str | None:
    bridges = sorted(target.desired["networks"]["bridges"]) if model.enabled(target.desired, "networks") else []
    return bridges[0] if bridges else None


def _aa_run(target, aa, profile):
    """The probe under profile (seccomp off, so a denial is AppArmor's doing), once per host and
    profile. Under our own profile it also resolves its own name on a declared bridge."""
    key = (target.name, profile)
    if key not in _AA_RUNS:
        kinds = [k for k in aa["deny_network"] if k in AA_PROBES]
        steps = ["read:/proc/self/attr/current", *(f"socket:{AA_PROBES[k]}" for k in kinds), *AA_ALLOWED]
        args = f"--security-opt apparmor={shlex.quote(profile)} --security-opt seccomp=unconfined"
        bridge = _bridge(target) if profile == aa["name"] else None
        if bridge:
            args += f" --network {shlex.quote(bridge)} --name {AA_DNS_NAME}"
            steps.append(f"resolve:{AA_DNS_NAME}")
        _AA_RUNS[key] = kinds, target.container(args, steps)[1]
    return _AA_RUNS[key]


def test_apparmor_confines_container(target, aa):
    """Under our profile the container runs confined (enforce), cannot open the denied kinds of
    socket, and can still do what ordinary programs need (netlink, unix, an interface dump)."""
    kinds, got = _aa_run(target, aa, aa["name"])
    assert got["read:/proc/self/attr/current"] == f"{aa['name']} (enforce)", got["read:/proc/self/attr/current"]
    wrong = [f"socket {k}: {got[f'socket:{AA_PROBES[k]}']} (want EACCES)" for k in kinds
             if got[f"socket:{AA_PROBES[k]}"] not in ("EACCES", "EPERM")]
    wrong += [f"{c}: {got[c]} (want ok)" for c in AA_ALLOWED if got[c] != "ok"]
    assert not wrong, "; ".join(wrong)


def test_apparmor_control_unconfined_opens_the_denied_sockets(target, aa):
    """The same probe without the profile opens every kind the check above expects denied:
    that check can fail."""
    kinds, got = _aa_run(target, aa, "unconfined")
    if not kinds:
        pytest.skip("data denies no kind of socket the probe can try")
    assert got["read:/proc/self/attr/current"] == "unconfined", got["read:/proc/self/attr/current"]
    wrong = [f"socket {k}: {got[f'socket:{AA_PROBES[k]}']}" for k in kinds if got[f"socket:{AA_PROBES[k]}"] != "ok"]
    assert not wrong, "; ".join(wrong)


def test_apparmor_container_resolves_names(target, aa):
    """A DNS lookup works under the profile: the confined container resolves its own name
    through Docker's embedded DNS on a declared bridge, to an address of that bridge."""
    bridge = _bridge(target)
    if not bridge:
        pytest.skip("no bridge network declared (the embedded DNS needs a user-defined network)")
    _, got = _aa_run(target, aa, aa["name"])
    address = got[f"resolve:{AA_DNS_NAME}"]
    subnet = ipaddress.ip_network(target.desired["networks"]["bridges"][bridge]["subnet"])
    assert address != "unresolved" and ipaddress.ip_address(address) in subnet, \
        f"under {aa['name']} the container's own name resolves to {address!r} (want an address in {subnet})"
