"""Kernel tuning holds at boot: a planted override is caught; a reboot keeps every value."""

import subprocess
import sys

import pytest

from .conftest import NO_VERIFY, REPO, SWARM, pyinfra, ssh, verify

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first

OVERRIDE = "/etc/sysctl.d/99-zz-override.conf"


@SWARM
def test_planted_override_is_reported_then_taken_over():
    ssh("lab1", f"echo 'net.core.somaxconn = 1024' > {OVERRIDE}")
    res = pyinfra("--limit", "lab1", *NO_VERIFY)
    assert res.returncode != 0
    assert f"{OVERRIDE} sets net.core.somaxconn = 1024 (dockwright: 65535)" in res.stdout + res.stderr
    res = pyinfra("--limit", "lab1", *NO_VERIFY, host_data={"lab1": {"sysctl": {"on_override": "takeover"}}})
    assert res.returncode == 0
    assert ssh("lab1", f"cat {OVERRIDE}").startswith("# disabled by dockwright")
    assert ssh("lab1", f"cat {OVERRIDE}.dockwright-bak.*").strip() == "net.core.somaxconn = 1024"
    # A second takeover keeps the first backup: each one has its own timestamp.
    ssh("lab1", f"echo 'net.core.somaxconn = 2048' >> {OVERRIDE}")
    res = pyinfra("--limit", "lab1", *NO_VERIFY, host_data={"lab1": {"sysctl": {"on_override": "takeover"}}})
    assert res.returncode == 0
    backups = ssh("lab1", f"ls {OVERRIDE}.dockwright-bak.* | sort").split()
    assert len(backups) == 2
    assert ssh("lab1", f"cat {backups[0]}").strip() == "net.core.somaxconn = 1024"
    assert ssh("lab1", f"[ ! -L {OVERRIDE} ] && sysctl -n net.core.somaxconn").strip() == "65535"


@SWARM
def test_values_hold_after_reboot():
    subprocess.run([sys.executable, "-m", "lab", "reboot", "lab1"], cwd=REPO, check=True)
    assert ssh("lab1", "uptime -s")  # answers after the reboot
    # lab2 is the peer the port policy (2375 refused to all) is tried from.
    res = verify("--limit", "lab1,lab2", "-k", "sysctl_live or conntrack or apparmor_profile or daemon_json "
                 "or port_policy_admits")
    assert res.returncode == 0 and " passed" in res.stdout
    assert "[ok  ] port_policy_admits_exactly_whom_the_data_says" in res.stdout.split("  lab1: ", 1)[1]
