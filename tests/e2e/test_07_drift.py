"""Verification catches a hand change; drift.py finds, fixes and then sees a clean fleet."""

import subprocess
import sys

from .conftest import REPO, drift, ssh, verify


def test_standalone_verification_names_host_and_check():
    ssh("lab3", "sysctl -q -w net.core.somaxconn=100")
    try:
        res = verify("--limit", "lab3", "-k", "sysctl_live")
        assert res.returncode != 0
        assert "lab3: 0 passed, 1 failed" in res.stdout
        assert "[FAIL] sysctl_live_and_at_boot" in res.stdout and "net.core.somaxconn: live 100 != 65535" in res.stdout
    finally:
        ssh("lab3", "sysctl -q -w net.core.somaxconn=65535")


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


def test_a_behavioural_check_that_cannot_run_fails_unless_the_host_opts_out():
    # Production-shaped: the host's verify image has no probe. The behavioural check fails (it
    # is not skipped); a host whose data opts out shows it skipped, and the summary says why.
    missing = {"lab3": {"verify": {"probe": "dw-no-such-probe"}}}
    res = verify("--limit", "lab3", "-k", "seccomp_default_profile", host_data=missing)
    assert res.returncode != 0 and "has no dw-no-such-probe" in res.stdout
    missing["lab3"]["verify"]["behaviour"] = False
    res = verify("--limit", "lab3", "-k", "seccomp_default_profile", host_data=missing)
    assert res.returncode == 0
    assert "seccomp_default_profile_denies_what_data_asks  Skipped: behavioural check: this host opts out" in res.stdout


def test_drift_found_fixed_then_clean():
    ssh("lab2", "sysctl -q -w net.core.somaxconn=128; "
                "sed -i 's/somaxconn = 65535/somaxconn = 1024/' /etc/sysctl.d/90-dockwright.conf; "
                "sed -i 's/\"log-level\": \"info\"/\"log-level\": \"debug\"/' /etc/docker/daemon.json; "
                "apparmor_parser -R /etc/apparmor.d/dockwright-default; "
                "docker network rm backend >/dev/null && docker network create --subnet 10.6.0.0/16 backend >/dev/null")
    res = drift("--json", "reports/drift.json", "--metrics", "reports/drift.prom")
    assert res.returncode == 2
    for item in ("[sysctl] /etc/sysctl.d/90-dockwright.conf: net.core.somaxconn: desired '65535', actual '1024'",
                 "[sysctl] live: net.core.somaxconn: desired '65535', actual '128'",
                 "[docker] daemon.json: log-level: desired 'info', actual 'debug'",
                 "[apparmor] dockwright-default loaded mode: desired 'enforce', actual None",
                 "[networks] backend.subnet: desired '10.5.0.0/16', actual '10.6.0.0/16'"):
        assert item in res.stdout
    assert "lab1: no drift" in res.stdout and "lab3: no drift" in res.stdout
    metrics = (REPO / "reports" / "drift.prom").read_text()
    assert 'dockwright_drift_items{host="lab2",concern="networks"} 3' in metrics
    res = drift("--fix", "--limit", "lab2")
    assert res.returncode == 2 and "drift found and fixed" in res.stdout
    assert "lab2: " in res.stdout and "0 failed" in res.stdout
    assert drift().returncode == 0


def test_unreachable_host_fails_the_run_but_others_are_reported():
    subprocess.run([sys.executable, "-m", "lab", "stop", "lab2"], cwd=REPO, check=True)
    res = drift()
    assert res.returncode == 1
    assert "lab2: UNREACHABLE" in res.stdout
    assert "lab1: no drift" in res.stdout and "lab3: no drift" in res.stdout
