"""The swarm-wide manager-restart lease, its commands run here by sh against a stand-in for
`docker config` whose store creates a name once (as the swarm's Raft store does)."""

import os
import subprocess

import pytest

from dockwright import restart_lease
from dockwright.operations import docker

from .harness import FakeHost, FakeState, answers

FAKE_DOCKER = r"""#!/bin/sh
# docker config create|inspect|rm over a directory; a name is created once (mkdir is atomic), and
# stamped with the store's own clock (CreatedAt), as the swarm's Raft store does.
store="$FAKE/configs"; mkdir -p "$store"
[ "$1" = config ] || exit 2
case "$2" in
  create)
    shift 2; holder=""; seconds=""
    while [ $# -gt 2 ]; do
      case "$2" in dockwright.holder=*) holder=${2#*=} ;; dockwright.seconds=*) seconds=${2#*=} ;; esac; shift 2
    done
    name=$1; cat >/dev/null
    mkdir "$store/$name" 2>/dev/null || { echo "Error response from daemon: rpc error: config $name already exists" >&2; exit 1; }
    id=$(date +%s%N); echo "$id" > "$store/$name/id"; echo "$holder" > "$store/$name/holder"
    echo "$seconds" > "$store/$name/seconds"; date +%s > "$store/$name/created"
    echo "$id" ;;
  inspect)
    name=$5; [ -d "$store/$name" ] || { echo "Error: No such config: $name" >&2; exit 1; }
    case "$4" in
      *CreatedAt*) echo "$(cat "$store/$name/id") $(cat "$store/$name/created") h$(cat "$store/$name/holder") s$(cat "$store/$name/seconds")" ;;
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


def _created(swarm, seconds_ago: int) -> None:
    """The lease as the swarm stamped it, seconds_ago seconds before now."""
    import time
    (swarm.store / restart_lease.NAME / "created").write_text(f"{int(time.time()) - seconds_ago}\n")


def test_a_lapsed_lease_is_taken_over_only_after_the_margin_on_the_swarms_clock(swarm):
    swarm(restart_lease.acquire_command("dead-run", 60))  # its holder died
    _created(swarm, 60 + restart_lease.MARGIN - 30)  # its time is up, but not its margin
    assert swarm(restart_lease.acquire_command("run-b", 600))[0].startswith("held dead-run ")
    _created(swarm, 60 + restart_lease.MARGIN + 30)  # past the margin too
    assert swarm(restart_lease.acquire_command("run-b", 600)) == ["acquired"]
    assert (swarm.store / restart_lease.NAME / "holder").read_text().strip() == "run-b"


def test_a_lease_without_a_duration_lapses_after_the_default(swarm):
    """A lease written by hand or by an older dockwright (no duration label): it is honoured,
    and lapses DEFAULT_SECONDS after the swarm created it, never holding the swarm for ever."""
    swarm(restart_lease.acquire_command("old-run", 60))
    (swarm.store / restart_lease.NAME / "seconds").write_text("\n")
    _created(swarm, 600)
    assert swarm(restart_lease.acquire_command("run-b", 600))[0].startswith("held old-run ")
    _created(swarm, restart_lease.DEFAULT_SECONDS + restart_lease.MARGIN + 1)
    assert swarm(restart_lease.acquire_command("run-b", 600)) == ["acquired"]


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


def test_the_quorum_is_judged_again_under_the_lease():
    """Before the lease the swarm looked fine; under it, another controller's restart of a peer
    shows: not restarted, and the lease released at once."""
    answers_ = iter([["state active true", "node true Leader", "node false Reachable", "node false Reachable"],
                     ["state active true", "node true Leader", "node false Unreachable", "node false Reachable"]])

    def answer(text):
        if "docker node ls" in text:
            return True, next(answers_)
        if "docker config create" in text:
            return True, ["acquired"]
        return True, []
    h = FakeHost(name="lab1", answer=answer)
    assert docker._apply(FakeState(), h, "script", "{}", "r1", ("managers", 1), True, 30, {}) is False
    cmds = h.commands()
    assert [i for i, c in enumerate(cmds) if "docker node ls" in c] == [0, 2]  # before and under the lease
    assert not any("systemd-run" in c for c in cmds)
    assert "docker config rm" in cmds[-1] and "config create" not in cmds[-1]  # released
    assert any("would leave 1 of 3 managers reachable" in m for m in h.logged)


def test_the_lease_is_kept_when_the_outcome_is_unknown():
    """No outcome in time: the rollout (or the recovery it started) may still restart this
    manager, so the lease is not released; it lapses."""
    h = lease_host({"docker node ls": ["state active true", "node true Leader"], "docker config create": ["acquired"],
                    "systemd-run": []})
    assert docker._apply(FakeState(), h, "script", "{}", "r1", ("managers", 1), True, 30, {}) is False
    assert not any("docker config rm" in c and "config create" not in c for c in h.commands())
    assert any("lease is kept until it lapses" in m for m in h.logged)
