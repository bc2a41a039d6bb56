"""daemon.json rollout: live-restore keeps containers; a config that stops dockerd is rolled back."""

import json

from .conftest import NO_VERIFY, dockerd_started, pyinfra, ssh


def test_live_restore_keeps_running_container_through_restart():
    ssh("lab3", "docker rm -f keeper >/dev/null 2>&1; "
                "docker run -d --pull never --name keeper dw-test sleep 100000 >/dev/null")
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
