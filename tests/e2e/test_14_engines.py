"""The swarm's worker, whatever engine it runs (lab2: Debian 13's 26.1, or with
DOCKWRIGHT_LAB2_SUITE=sid unstable's 28.5 beside a 26.1 manager): a daemon.json that dockerd
validates but cannot start with is rolled back there, and the chains dockwright's port policy and
diagnosis read are where that engine puts them, read from the engine itself."""

import json

import pytest

from .conftest import NO_VERIFY, SWARM, pyinfra, ssh

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first


def engine(name: str) -> tuple[int, ...]:
    text = ssh(name, "docker version --format '{{.Server.Version}}'").strip()
    return tuple(int(x) for x in text.split("+")[0].split("-")[0].split(".")[:3])


@SWARM
def test_a_config_that_stops_the_workers_dockerd_is_rolled_back_whatever_its_engine():
    version = engine("lab2")
    print(f"lab2 runs Engine {'.'.join(map(str, version))}")
    before = ssh("lab2", "cat /etc/docker/daemon.json")
    mode = ssh("lab2", "stat -c '%a %U %G' /etc/docker/daemon.json").strip()
    # dockerd --validate accepts it; dockerd cannot start with it on ext4.
    res = pyinfra("--limit", "lab2", *NO_VERIFY, host_data={"lab2": {"docker": {"daemon": {"storage-driver": "btrfs"}}}})
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "rolled back to the previous daemon.json" in out
    assert ssh("lab2", "cat /etc/docker/daemon.json") == before
    # The previous file comes back as it was, its mode too (verification checks it).
    assert ssh("lab2", "stat -c '%a %U %G' /etc/docker/daemon.json").strip() == mode
    assert json.loads(ssh("lab2", "cat /etc/docker/daemon.json.dockwright-failed"))["storage-driver"] == "btrfs"
    assert ssh("lab2", "systemctl is-active docker; docker info --format '{{.Swarm.LocalNodeState}}'").split() == \
        ["active", "active"]  # back, and still in the swarm
    # The FORWARD chain as this engine lays it out: DOCKER-USER first either way; 28 moved the
    # isolation and DOCKER jumps under DOCKER-FORWARD.
    forward = ssh("lab2", "iptables -S FORWARD")
    assert forward.index("-j DOCKER-USER") < forward.index("-j DOCKER-FORWARD" if version >= (28,) else "-j DOCKER-ISOLATION")
    if version >= (27,):  # ip6tables on by default: the policy's IPv6 side is there too
        assert "-N DOCKER-USER" in ssh("lab2", "ip6tables -S DOCKER-USER")
