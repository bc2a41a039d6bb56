"""seccomp and AppArmor, proven by what a container can and cannot do."""

import json
import re
import shlex

import pytest

from operations import model

from . import expect, snapshot
from .snapshot import BUILTIN_DENIED, FAMILIES_OK, FAMILY_NAMES


def _results(target, out: str) -> dict[str, str]:
    """The probe's answers; a missing probe fails the check (behaviour must be proven)."""
    if "no-probe" in out.split():
        v = target.desired["verify"]
        pytest.fail(f"verify image {v['image']} has no {v['probe']}: the behavioural checks cannot run "
                    "(set verify.behaviour to false to opt this host out)")
    return dict(line.split("=", 1) for line in out.split() if "=" in line)


def _probe(target, args, calls, extra=""):
    """Runs the probe for each call in one container; {"socket_packet": "EPERM", ...}."""
    script = f"{extra}{snapshot.probe_script(target.desired['verify']['probe'], calls)}"
    _, out = target.container(args, script)
    return _results(target, out)


@pytest.fixture
def seccomp_on(target):
    conf = target.desired["seccomp"]
    if not (model.enabled(target.desired, "seccomp") and conf["default"]):
        pytest.skip("seccomp profile is not the daemon default on this host")
    return conf


def test_seccomp_default_profile_denies_what_data_asks(target, seccomp_on):
    denied = [FAMILY_NAMES[f] for f in seccomp_on["deny_socket_families"] if f in FAMILY_NAMES]
    got = _results(target, target.default_view()["probe"])  # probed under the daemon's defaults
    wrong = [f"socket {f}: {got[f'socket_{f}']}" for f in FAMILIES_OK if got[f"socket_{f}"] != "ok"]
    wrong += [f"socket {f}: {got[f'socket_{f}']} (want EPERM)" for f in denied if got[f"socket_{f}"] != "EPERM"]
    wrong += [f"{s}: {got[f'syscall_{s}']} (want denied)" for s in BUILTIN_DENIED
              if got[f"syscall_{s}"] not in ("EPERM", "ENOSYS")]
    assert not wrong, "; ".join(wrong)


def test_seccomp_control_builtin_profile_allows_af_packet(target, seccomp_on):
    """The same probe under Docker's built-in profile opens AF_PACKET: the check above can fail."""
    if 17 not in seccomp_on["deny_socket_families"]:
        pytest.skip("data does not deny AF_PACKET")
    # Engines before 25 have no "builtin" keyword; there the control runs without seccomp,
    # which shows the same thing (the probe opens AF_PACKET when our profile is not in force).
    target.require_behaviour()
    image, script = shlex.quote(target.desired["verify"]["image"]), snapshot.probe_script(
        target.desired["verify"]["probe"], ["socket packet"])
    out = target.run(" || ".join(
        f"docker run --rm --pull never --security-opt seccomp={p} {image} sh -c {shlex.quote(f'echo control={p}; {script}')}"
        for p in ("builtin", "unconfined"))).stdout
    got = _results(target, out)
    assert got["socket_packet"] == "ok", got


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
AA_ALLOWED = ("socket netlink", "socket unix", "getifaddrs")


def _aa_run(target, aa, profile):
    kinds = [k for k in aa["deny_network"] if k in AA_PROBES]
    calls = [f"socket {AA_PROBES[k]}" for k in kinds] + list(AA_ALLOWED)
    got = _probe(target, f"--security-opt apparmor={shlex.quote(profile)} --security-opt seccomp=unconfined",
                 calls, extra="echo attr=$(tr ' ' _ < /proc/self/attr/current); "
                               "ip addr show lo >/dev/null 2>&1 && echo ip_addr=ok || echo ip_addr=failed; ")
    return kinds, got


def test_apparmor_confines_container(target, aa):
    """Under our profile the container runs confined (enforce), cannot open the denied kinds of
    socket, and can still do what ordinary programs need (netlink, unix, getifaddrs, `ip`)."""
    kinds, got = _aa_run(target, aa, aa["name"])
    assert got["attr"] == f"{aa['name']}_(enforce)", got["attr"]
    # seccomp is off in this container, so a denial here is AppArmor's doing.
    wrong = [f"socket {k}: {got[f'socket_{AA_PROBES[k]}']} (want EACCES)" for k in kinds
             if got[f"socket_{AA_PROBES[k]}"] not in ("EACCES", "EPERM")]
    wrong += [f"{c}: {got[c.replace(' ', '_')]} (want ok)" for c in AA_ALLOWED
              if got[c.replace(" ", "_")] != "ok"]
    if got["ip_addr"] != "ok":
        wrong.append("ip addr: failed under the profile")
    assert not wrong, "; ".join(wrong)


def test_apparmor_control_unconfined_opens_the_denied_sockets(target, aa):
    """The same probe without the profile opens every kind the check above expects denied:
    that check can fail."""
    kinds, got = _aa_run(target, aa, "unconfined")
    if not kinds:
        pytest.skip("data denies no kind of socket the probe can try")
    assert got["attr"] == "unconfined", got["attr"]
    wrong = [f"socket {k}: {got[f'socket_{AA_PROBES[k]}']}" for k in kinds if got[f"socket_{AA_PROBES[k]}"] != "ok"]
    assert not wrong, "; ".join(wrong)


def test_apparmor_container_resolves_names(target, aa):
    """A DNS lookup works under the profile: the container resolves its own name through
    Docker's embedded DNS on a declared bridge."""
    bridges = sorted(target.desired["networks"]["bridges"]) if model.enabled(target.desired, "networks") else []
    if not bridges:
        pytest.skip("no bridge network declared (the embedded DNS needs a user-defined network)")
    _, out = target.container(f"--network {shlex.quote(bridges[0])} --name dw-verify-aa-dns "
                              f"--security-opt apparmor={shlex.quote(aa['name'])}",
                              "nslookup dw-verify-aa-dns 127.0.0.11 >/dev/null 2>&1 && echo dns-ok")
    assert out.strip() == "dns-ok", out
