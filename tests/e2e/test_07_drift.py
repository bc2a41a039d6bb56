"""Verification catches a hand change; drift.py finds, fixes and then sees a clean fleet."""

import re

import pytest

from lab import vm

from .conftest import STANDALONE, SWARM, drift, ssh, verify

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first


@STANDALONE
def test_standalone_verification_names_host_and_check():
    ssh("lab3", "sysctl -q -w net.core.somaxconn=100")
    try:
        res = verify("--limit", "lab3", "-k", "sysctl_live")
        assert res.returncode != 0
        assert "lab3: 0 passed, 1 failed" in res.stdout
        assert "[FAIL] sysctl_live_and_at_boot" in res.stdout and "net.core.somaxconn: live 100 != 65535" in res.stdout
    finally:
        ssh("lab3", "sysctl -q -w net.core.somaxconn=65535")


@STANDALONE
def test_verification_asks_systemd_which_file_wins_at_boot():
    # A file that sorts after dockwright's own wins at boot though the live value is right:
    # verification reads systemd's own order (the control for its boot judgement).
    planted = "/etc/sysctl.d/99-zz-verify-control.conf"
    ssh("lab3", f"echo 'net.core.somaxconn = 1024' > {planted}")
    try:
        res = verify("--limit", "lab3", "-k", "sysctl_live")
        assert res.returncode != 0
        assert f"net.core.somaxconn: after reboot 1024 (from {planted}) != 65535" in res.stdout
    finally:
        ssh("lab3", f"rm -f {planted}")


# A docker that refuses `import` (a host where the probe image cannot be brought), first on PATH.
NO_IMPORT = ("printf '#!/bin/sh\\n[ \"$1\" = import ] && { echo refused by the test >&2; exit 1; }\\n"
             "exec /usr/bin/docker \"$@\"\\n' > /usr/local/bin/docker && chmod 755 /usr/local/bin/docker")
PROBE_IMAGES = "docker images dockwright-probe --format '{{.Repository}}:{{.Tag}}'"


@SWARM
def test_a_host_without_the_probe_image_gets_it_and_runs_every_behavioural_check():
    # Production-shaped: lab1 has no probe image (and no other image at all). Verification
    # builds nothing there, imports the probe, and every behavioural check runs and passes.
    from dockwright import probe
    ssh("lab1", f"{PROBE_IMAGES} | xargs -r docker rmi -f >/dev/null; docker rm -f $(docker ps -aq) >/dev/null 2>&1; "
                "docker rmi -f $(docker images -q) >/dev/null 2>&1; true")
    assert ssh("lab1", "docker images -q").strip() == ""
    res = verify("--limit", "lab1", "-rA")
    assert res.returncode == 0
    for check in ("seccomp_default_profile_denies_what_data_asks", "seccomp_control_builtin_profile_allows_af_packet",
                  "apparmor_confines_container", "apparmor_control_unconfined", "apparmor_container_resolves_names",
                  "bridge_dns_and_workload", "container_view_of_per_namespace_keys", "container_limits_from_daemon"):
        assert re.search(rf"PASSED dockwright/verify/\S+::test_{check}\S*\[lab1\]", res.stdout), check
    assert ssh("lab1", PROBE_IMAGES).split() == [probe.image("x86_64")]


@STANDALONE
def test_a_behavioural_check_that_cannot_run_fails_unless_the_host_opts_out():
    # lab3 cannot get the probe image (its docker refuses `import`): the behavioural checks
    # fail with the reason (they are not skipped); a host whose data opts out shows them
    # skipped, and the summary says why.
    # Containers of the probe image would keep it: they go first, then the image.
    ssh("lab3", f"for i in $({PROBE_IMAGES}); do docker ps -aq --filter ancestor=$i; done | xargs -r docker rm -f >/dev/null; "
                f"{PROBE_IMAGES} | xargs -r docker rmi -f >/dev/null; " + NO_IMPORT)
    assert ssh("lab3", PROBE_IMAGES).strip() == "", "the probe image is still on lab3"
    try:
        res = verify("--limit", "lab3", "-k", "seccomp_default_profile")
        assert res.returncode != 0
        assert "lab3: behavioural checks cannot run, no probe image" in res.stdout and "refused by the test" in res.stdout
        opt_out = {"lab3": {"verify": {"behaviour": False}}}
        res = verify("--limit", "lab3", "-k", "seccomp_default_profile", host_data=opt_out)
        assert res.returncode == 0
        assert "seccomp_default_profile_denies_what_data_asks  Skipped: behavioural check: this host opts out" in res.stdout
    finally:
        ssh("lab3", "rm -f /usr/local/bin/docker")


def test_unreachable_host_fails_the_run_but_others_are_reported():
    # lab2 frozen: its SSH port still accepts, nothing answers (a hung host, or a path that
    # drops packets); resumed afterwards, without a boot.
    with vm.frozen("lab2"):
        res = drift()
    assert res.returncode == 1
    assert "lab2: UNREACHABLE" in res.stdout
    assert "lab1: no drift" in res.stdout and "lab3: no drift" in res.stdout
    assert ssh("lab2", "echo back").strip() == "back"
