"""seccomp and AppArmor, proven by what a container can and cannot do."""

import ipaddress
import json
import re

import pytest

from dockwright import model

from . import expect, snapshot
from .snapshot import BUILTIN_DENIED, FAMILIES_OK, FAMILY_NAMES


@pytest.fixture
def seccomp_on(target):
    conf = target.needs("seccomp")  # skipped, before its section is read, when the concern is off
    if not conf["default"]:
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
    got = target.control_view()
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
    return target.needs("apparmor")


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


AA_PROBES, AA_ALLOWED = snapshot.AA_PROBES, snapshot.AA_ALLOWED


def _aa_run(target, aa):
    """The workload's view: it runs under our profile with seccomp off (a denial there is
    AppArmor's doing)."""
    return [k for k in aa["deny_network"] if k in AA_PROBES], target.workload_view()


def test_apparmor_confines_container(target, aa):
    """Under our profile the container runs confined (enforce), cannot open the denied kinds of
    socket, and can still do what ordinary programs need (netlink, unix, an interface dump)."""
    kinds, got = _aa_run(target, aa)
    assert got["read:/proc/self/attr/current"] == f"{aa['name']} (enforce)", got["read:/proc/self/attr/current"]
    wrong = [f"socket {k}: {got[f'socket:{AA_PROBES[k]}']} (want EACCES)" for k in kinds
             if got[f"socket:{AA_PROBES[k]}"] not in ("EACCES", "EPERM")]
    wrong += [f"{c}: {got[c]} (want ok)" for c in AA_ALLOWED if got[c] != "ok"]
    assert not wrong, "; ".join(wrong)


def test_apparmor_control_unconfined_opens_the_denied_sockets(target, aa):
    """The same probe without the profile opens every kind the check above expects denied:
    that check can fail."""
    kinds, got = [k for k in aa["deny_network"] if k in AA_PROBES], target.control_view()
    if not kinds:
        pytest.skip("data denies no kind of socket the probe can try")
    assert got["read:/proc/self/attr/current"] == "unconfined", got["read:/proc/self/attr/current"]
    wrong = [f"socket {k}: {got[f'socket:{AA_PROBES[k]}']}" for k in kinds if got[f"socket:{AA_PROBES[k]}"] != "ok"]
    assert not wrong, "; ".join(wrong)


def test_apparmor_container_resolves_names(target, aa):
    """A DNS lookup works under the profile: the confined workload resolves its own name
    through Docker's embedded DNS on the first declared bridge, to an address of that bridge."""
    bridges = snapshot.bridges(target.desired)
    if not bridges:
        pytest.skip("no bridge network declared (the embedded DNS needs a user-defined network)")
    _, got = _aa_run(target, aa)
    address = got["resolve:SELF"]
    subnet = ipaddress.ip_network(target.desired["networks"]["bridges"][bridges[0]]["subnet"])
    assert address != "unresolved" and ipaddress.ip_address(address) in subnet, \
        f"under {aa['name']} the container's own name resolves to {address!r} (want an address in {subnet})"
