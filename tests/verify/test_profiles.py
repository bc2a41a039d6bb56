"""seccomp and AppArmor, proven by what a container can and cannot do."""

import pytest

from operations import apparmor, model, seccomp

FAMILIES_OK = ("inet", "inet6", "unix", "netlink")
# Denied by Docker's built-in profile; must be denied under ours as well.
BUILTIN_DENIED = ("keyctl", "add_key", "request_key", "bpf", "kexec_load", "unshare", "ptrace")
FAMILY_NAMES = {17: "packet"}


def _probe(target, args, calls):
    probe = target.desired["verify"]["probe"]
    rc, _ = target.container(args, f"command -v {probe}", check=False)
    if rc != 0:
        pytest.skip(f"verify image {target.desired['verify']['image']} has no {probe}")
    script = "; ".join(f"echo {c.replace(' ', '_')}=$({probe} {c})" for c in calls)
    _, out = target.container(args, script)
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
    got = _probe(target, "--security-opt seccomp=builtin", ["socket packet"])
    assert got["socket_packet"] == "ok", got


def test_seccomp_profile_file_matches_data(target, seccomp_on):
    f = target.host.file(seccomp.path_for(seccomp_on["name"]))
    assert f.exists and f.content_string == seccomp.render(seccomp_on)


def test_normal_workload_runs_under_default_profile(target, seccomp_on):
    """busybox networking works under our profile: a web server, wget, nslookup and ping."""
    net = "dw-verify-wl"
    target.run(f"docker rm -f {net}-web >/dev/null 2>&1; docker network rm {net} >/dev/null 2>&1")
    target.out(f"docker network create {net} >/dev/null")
    try:
        image = target.desired["verify"]["image"]
        target.out(f"docker run -d --pull never --name {net}-web --network {net} {image} "
                   "sh -c 'echo hello > /tmp/index.html; httpd -f -p 8080 -h /tmp'")
        _, out = target.container(f"--network {net}",
                                  f"nslookup {net}-web 127.0.0.11 >/dev/null && echo dns-ok; "
                                  f"wget -qO- http://{net}-web:8080/index.html; "
                                  f"ping -c1 -W5 {net}-web >/dev/null && echo ping-ok")
        assert out.split() == ["dns-ok", "hello", "ping-ok"], out
    finally:
        target.run(f"docker rm -f {net}-web >/dev/null 2>&1; docker network rm {net} >/dev/null 2>&1")


@pytest.fixture
def aa(target):
    if not model.enabled(target.desired, "apparmor"):
        pytest.skip("apparmor concern off for this host")
    return target.desired["apparmor"]


def test_apparmor_profile_loaded_in_enforce_mode(target, aa):
    state = target.fact(apparmor.AppArmorState, profile_name=aa["name"])
    assert state["enabled"], "AppArmor is not enabled"
    assert state["loaded"] == "enforce", f"{aa['name']} loaded mode: {state['loaded']}"
    f = target.host.file(f"{apparmor.PROFILE_DIR}/{aa['name']}")
    assert f.exists and f.content_string == apparmor.render(aa), "profile file differs from data"


def test_apparmor_confines_container(target, aa):
    _, current = target.container(f"--security-opt apparmor={aa['name']}", "cat /proc/self/attr/current")
    assert current.strip() == f"{aa['name']} (enforce)", current
    if "raw" in aa["deny_network"]:
        got = _probe(target, f"--security-opt apparmor={aa['name']}", ["socket raw"])
        assert got["socket_raw"] in ("EACCES", "EPERM"), got
