"""daemon.json rollout: live-restore keeps containers; a config that stops dockerd is rolled back."""

import json

import pytest

from .conftest import NO_VERIFY, STANDALONE, SWARM, dockerd_started, probe_image, pyinfra, ssh
from dockwright.facts import engine as fengine

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first


@STANDALONE
def test_live_restore_keeps_running_container_through_restart():
    ssh("lab3", "docker rm -f keeper >/dev/null 2>&1; "
                f"docker run -d --pull never --name keeper {probe_image('lab3')} sleep >/dev/null")
    started = ssh("lab3", "docker inspect -f '{{.State.StartedAt}}' keeper").strip()
    daemon_before = dockerd_started("lab3")
    res = pyinfra("--limit", "lab3", *NO_VERIFY,
                  host_data={"lab3": {"docker": {"daemon": {"log-opts": {"max-file": "4"}}}}})
    assert res.returncode == 0
    assert dockerd_started("lab3") != daemon_before, "dockerd was not restarted"
    assert ssh("lab3", "docker inspect -f '{{.State.Running}} {{.State.StartedAt}}' keeper").strip() == \
        f"true {started}"
    # back to the data model (another restart, still live-restore)
    assert pyinfra("--limit", "lab3", *NO_VERIFY).returncode == 0
    assert ssh("lab3", "docker inspect -f '{{.State.StartedAt}}' keeper").strip() == started
    ssh("lab3", "docker rm -f keeper >/dev/null")


@STANDALONE
def test_config_that_stops_dockerd_is_rolled_back():
    before = ssh("lab3", "cat /etc/docker/daemon.json")
    # dockerd --validate accepts it; dockerd cannot start with it on ext4.
    res = pyinfra("--limit", "lab3", *NO_VERIFY,
                  host_data={"lab3": {"docker": {"daemon": {"storage-driver": "btrfs"}}}})
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "rolling back" in out and "rolled back to the previous daemon.json" in out
    assert ssh("lab3", "cat /etc/docker/daemon.json") == before
    assert json.loads(ssh("lab3", "cat /etc/docker/daemon.json.dockwright-failed"))["storage-driver"] == "btrfs"
    assert ssh("lab3", "systemctl is-active docker; docker info --format '{{.Driver}}'").split() == \
        ["active", "overlay2"]


@STANDALONE
def test_engine_without_validate_falls_back_to_the_health_gate():
    """Debian 12's Engine 20.10 has no `dockerd --validate`: a key dockerd does not know passes
    preflight there and is caught by the health gate, rolled back, and remembered."""
    assert "Docker version 20.10" in ssh("lab3", "dockerd --version")
    before = ssh("lab3", "cat /etc/docker/daemon.json")
    started = dockerd_started("lab3")
    res = pyinfra("--limit", "lab3", *NO_VERIFY,
                  host_data={"lab3": {"docker": {"passthrough": {"no-such-option": True}}}})
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "dockerd has no --validate" in out and "rolled back to the previous daemon.json" in out
    assert ssh("lab3", "cat /etc/docker/daemon.json") == before and dockerd_started("lab3") != started


@SWARM
def test_engine_with_validate_refuses_before_any_change():
    """Debian 13's Engine 26 validates the candidate in preflight: nothing is restarted."""
    started = dockerd_started("lab1")
    res = pyinfra("--limit", "lab1", *NO_VERIFY,
                  host_data={"lab1": {"docker": {"passthrough": {"no-such-option": True}}}})
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "no host was changed" in out
    assert "lab1: docker.daemon = '(rendered daemon.json)': dockerd --validate" in out
    assert dockerd_started("lab1") == started


def test_cleartext_overlay_check_reads_real_engine_versions():
    from dockwright.plans import swarm
    versions = {h: fengine.parse_version(ssh(h, "dockerd --version")) for h in ("lab1", "lab3")}
    assert versions["lab3"][:2] == (20, 10) and versions["lab1"][0] >= 26, versions
    assert all(swarm.engine_problem(v) is None for v in versions.values()), versions
    assert swarm.engine_problem((20, 10, 23))  # the last 20.10 with CVE-2023-28841
