"""The swarm-wide manager-restart lease, its commands run here by sh against a stand-in for
`docker config` whose store creates a name once (as the swarm's Raft store does)."""

import os
import subprocess

import pytest

from dockwright import restart_lease
from operations import docker

from .harness import FakeHost, FakeState, answers

FAKE_DOCKER = r"""#!/bin/sh
# docker config create|inspect|rm over a directory; a name is created once (mkdir is atomic).
store="$FAKE/configs"; mkdir -p "$store"
[ "$1" = config ] || exit 2
case "$2" in
  create)
    shift 2; holder=""; expires=""
    while [ $# -gt 2 ]; do
      case "$2" in dockwright.holder=*) holder=${2#*=} ;; dockwright.expires=*) expires=${2#*=} ;; esac; shift 2
    done
    name=$1; cat >/dev/null
    mkdir "$store/$name" 2>/dev/null || { echo "Error response from daemon: rpc error: config $name already exists" >&2; exit 1; }
    id=$(date +%s%N); echo "$id" > "$store/$name/id"; echo "$holder" > "$store/$name/holder"; echo "$expires" > "$store/$name/expires"
    echo "$id" ;;
  inspect)
    name=$5; [ -d "$store/$name" ] || { echo "Error: No such config: $name" >&2; exit 1; }
    case "$4" in
      *expires*) echo "$(cat "$store/$name/id") $(cat "$store/$name/holder") $(cat "$store/$name/expires")" ;;
      *) echo "$(cat "$store/$name/id") $(cat "$store/$name/holder")" ;;
    esac ;;
  rm)
    for d in "$store"/*; do [ "$(cat "$d/id" 2>/dev/null)" = "$3" ] && rm -rf "$d" && exit 0; done
    echo "Error: No such config: $3" >&2; exit 1 ;;
esac
"""


@pytest.fixture
def swarm(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "docker").write_text(FAKE_DOCKER)
    (tmp_path / "bin" / "docker").chmod(0o755)

    def sh(command):
        env = dict(os.environ, FAKE=str(tmp_path), PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
        res = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=60)
        return res.stdout.splitlines()
    sh.store = tmp_path / "configs"
    return sh


def test_one_holder_at_a_time_and_the_holder_may_ask_again(swarm):
    assert swarm(restart_lease.acquire_command("run-a", 600)) == ["acquired"]
    held = swarm(restart_lease.acquire_command("run-b", 600))
    assert held[0].startswith("held run-a ")
    assert "another controller (run-a) holds" in restart_lease.problem(held)
    assert swarm(restart_lease.acquire_command("run-a", 600)) == ["acquired"]


def test_release_frees_it_but_only_for_its_holder(swarm):
    swarm(restart_lease.acquire_command("run-a", 600))
    swarm(restart_lease.release_command("run-b"))  # not the holder: kept
    assert swarm(restart_lease.acquire_command("run-b", 600))[0].startswith("held run-a")
    swarm(restart_lease.release_command("run-a"))
    assert swarm(restart_lease.acquire_command("run-b", 600)) == ["acquired"]


def test_a_lapsed_lease_is_taken_over(swarm):
    swarm(restart_lease.acquire_command("dead-run", -1))  # its holder died; its time is up
    assert swarm(restart_lease.acquire_command("run-b", 600)) == ["acquired"]
    assert (swarm.store / restart_lease.NAME / "holder").read_text().strip() == "run-b"


def test_a_swarm_that_cannot_be_asked_means_no_restart(tmp_path):
    assert "cannot take the swarm's manager-restart lease" in restart_lease.problem(["failed cannot connect"])
    assert restart_lease.problem([]) is not None


def lease_host(table: dict) -> FakeHost:
    """lab1, answering each command by the first key it contains."""
    return FakeHost(name="lab1", answer=answers(table, match=lambda text, key: key in text))


def test_a_manager_restarts_only_under_the_lease_and_releases_it():
    h = lease_host({"docker node ls": ["state active true", "node true Leader"], "docker config create": ["acquired"],
              "systemd-run": ["state result=applied", "state run=r1"]})
    assert docker._apply(FakeState(), h, "script", "{}", "r1", ("managers", 1), True, 30, {}) is True
    acquire = [i for i, c in enumerate(h.commands()) if "docker config create" in c]
    start = [i for i, c in enumerate(h.commands()) if "systemd-run" in c]
    release = [i for i, c in enumerate(h.commands()) if "docker config rm" in c and "config create" not in c]
    assert acquire and start and release and acquire[0] < start[0] < release[0]


def test_a_held_lease_stops_the_manager_before_anything_is_staged():
    h = lease_host({"docker node ls": ["state active true", "node true Leader"],
              "docker config create": ["held run-x 1900000000"]})
    assert docker._apply(FakeState(), h, "script", "{}", "r1", ("managers", 1), True, 30, {}) is False
    assert not any("cat > " in c or "systemd-run" in c for c in h.commands())
    assert any("another controller (run-x) holds" in m for m in h.logged)
