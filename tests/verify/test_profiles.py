"""seccomp and AppArmor, proven by what a container can and cannot do."""

import json
import re
import shlex

import pytest

from operations import model

from . import expect

FAMILIES_OK = ("inet", "inet6", "unix", "netlink")
# Denied by Docker's built-in profile; must be denied under ours as well.
BUILTIN_DENIED = ("keyctl", "add_key", "request_key", "bpf", "kexec_load", "unshare", "ptrace")
FAMILY_NAMES = {17: "packet"}


def _probe(target, args, calls, extra=""):
    """Runs the probe for each call in one container; {"socket_packet": "EPERM", ...}."""
    probe = target.desired["verify"]["probe"]
    probe = shlex.quote(probe)
    script = (f"command -v {probe} >/dev/null || {{ echo no-probe; exit 0; }}; {extra}"
              + "; ".join(f"echo {c.replace(' ', '_')}=$({probe} {c})" for c in calls))
    _, out = target.container(args, script)
    if out.strip() == "no-probe":
        pytest.skip(f"verify image {target.desired['verify']['image']} has no {probe}")
    return dict(line.split("=", 1) for line in out.split())


@pytest.fixture
def seccomp_on(target):
    conf = target.desired["seccomp"]
    if not (model.enabled(target.desired, "seccomp") and conf["default"]):
        pytest.skip("seccomp profile is not the daemon default on this host")
    return conf


def test_seccomp_default_profile_denies_what_data_asks(target, seccomp_on):
    denied = [FAMILY_NAMES[f] for f in seccomp_on["deny_socket_families"] if f in FAMILY_NAMES]
    calls = [f"socket {f}" for f in FAMILIES_OK + tuple(denied)]
    calls += [f"syscall {s}" for s in BUILTIN_DENIED]
    got = _probe(target, "", calls)
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
    builtin = target.run(f"docker run --rm --pull never --security-opt seccomp=builtin "
                         f"{shlex.quote(target.desired['verify']['image'])} true")
    control = "--security-opt seccomp=builtin" if builtin.rc == 0 else "--security-opt seccomp=unconfined"
    got = _probe(target, control, ["socket packet"])
    assert got["socket_packet"] == "ok", (control, got)


def test_seccomp_profile_file_denies_what_data_asks(target, seccomp_on):
    """The profile file, judged from its JSON against the data (the behaviour: above)."""
    path = f"/etc/docker/seccomp/{seccomp_on['name']}.json"
    meta, content = target.file_facts(path)
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
    out = target.out("cat /sys/module/apparmor/parameters/enabled 2>/dev/null; echo @@; "
                     "cat /sys/kernel/security/apparmor/profiles 2>/dev/null || true")
    enabled, _, profiles = out.partition("@@\n")
    assert enabled.strip() == "Y", "AppArmor is not enabled"
    modes = [line[len(aa["name"]):].strip() for line in profiles.splitlines() if line.startswith(aa["name"] + " (")]
    assert modes == ["(enforce)"], f"{aa['name']} as the kernel lists it: {modes or 'not loaded'}"
    meta, content = target.file_facts(f"/etc/apparmor.d/{aa['name']}")
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
