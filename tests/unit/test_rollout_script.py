"""The host-side rollout script, run here with stand-ins for dockerd, docker and systemctl.

The stand-ins keep a tiny model of a daemon: `systemctl restart docker` reads the live
daemon.json and comes up unless it asks for btrfs; `dockerd --validate` rejects a key named
"bogus". The lab proves the same paths against a real dockerd (tests/e2e/test_04_daemon.py).
"""

import contextlib
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dockwright import dockerd, templating

from .helpers import executables

FAKES = {
    "systemctl": """#!/bin/sh
case "$1" in
  restart) echo restart >> "$FAKE/restarts"
           cp "$FAKE/rollout.state" "$FAKE/state-at-restart" 2>/dev/null
           [ ! -f "$FAKE/hang" ] || { echo $$ > "$FAKE/hang.pid"; exec sleep 30; }
           if grep -q btrfs "$FAKE/daemon.json" 2>/dev/null; then echo failed > "$FAKE/state"; else echo up > "$FAKE/state"; fi ;;
  is-active) case "$(cat "$FAKE/state")" in up) [ "$2" = -q ] || echo active ;;
               down) [ "$2" = -q ] || echo inactive; exit 3 ;; *) [ "$2" = -q ] || echo failed; exit 3 ;; esac ;;
  start) echo start >> "$FAKE/restarts"
         if grep -q btrfs "$FAKE/daemon.json" 2>/dev/null; then echo failed > "$FAKE/state"; else echo up > "$FAKE/state"; fi ;;
  is-failed) [ "$(cat "$FAKE/state")" = failed ] ;;
  *) true ;;
esac
""",
    "docker": """#!/bin/sh
[ "$(cat "$FAKE/state")" = up ] || exit 1
case "$1 $2" in
  "info --format") case "$3" in *LocalNodeState*) echo inactive ;; *LiveRestoreEnabled*) cat "$FAKE/live_restore" ;; esac ;;
  "ps -q") cat "$FAKE/ps" ;;
  "inspect --format") case "$3" in *State.Running*) cat "$FAKE/running" ;; *) cat "$FAKE/inspect" ;; esac ;;
esac
""",
    "dockerd": """#!/bin/sh
[ "$1" = --help ] && { echo "  --validate   Validate daemon configuration and exit"; exit 0; }
grep -q bogus "$3" && { echo "unknown key: bogus"; exit 1; }
echo "configuration OK"
""",
    "journalctl": "#!/bin/sh\ntrue\n",
    "chown": "#!/bin/sh\ntrue\n",
}


@pytest.fixture
def host(tmp_path):
    executables(tmp_path / "bin", FAKES)
    (tmp_path / "state").write_text("up\n")
    (tmp_path / "live_restore").write_text("false\n")
    (tmp_path / "ps").write_text("")
    (tmp_path / "inspect").write_text("")
    (tmp_path / "running").write_text("true 2026-11-28T09:00:00Z\n")
    (tmp_path / "daemon.json").write_text('{"old": true}\n')
    return tmp_path


def script(host: Path, content: str, allow_stop=False, live_restore=False) -> Path:
    (host / "candidate").write_text(content)
    path = host / "daemon-apply.sh"
    path.write_text(templating.render(
        "docker/daemon-apply.sh.j2", path=host / "daemon.json", timeout=4, dir=host,
        candidate=host / "candidate", state=host / "rollout.state", log=host / "rollout.log",
        failed=host / "failed", sha=sha(content), script=path, systemd_dir=host / "systemd",
        has_validate=dockerd.HAS_VALIDATE,
        new_live_restore=str(live_restore).lower(), allow_stop=str(allow_stop).lower(), mode="0644"))
    return path


def env(host: Path) -> dict:
    return dict(os.environ, FAKE=str(host), PATH=f"{host / 'bin'}:{os.environ['PATH']}")


def kv(path: Path) -> dict:
    return dict(line.split("=", 1) for line in path.read_text().splitlines()) if path.exists() else {}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def rollout(host: Path, content: str, allow_stop=False, live_restore=False, run_id="r1", mode="apply"):
    path = script(host, content, allow_stop, live_restore)
    res = subprocess.run(["sh", str(path), run_id, mode], env=env(host), capture_output=True, text=True, timeout=60)
    return res, kv(host / "rollout.state")


def restarts(host):
    return len((host / "restarts").read_text().split()) if (host / "restarts").exists() else 0


def test_applied_keeps_a_backup_and_forgets_old_failures(host):
    (host / "failed").write_text("sha256=old\n")
    _, state = rollout(host, '{"new": true}\n')
    assert state["result"] == "applied" and state["run"] == "r1" and state["seen"] == "0"
    assert (host / "result.r1").read_text() == (host / "rollout.state").read_text()
    assert (host / "daemon.json").read_text() == '{"new": true}\n'
    assert (host / "daemon.json.dockwright-bak").read_text() == '{"old": true}\n'
    assert not (host / "failed").exists() and restarts(host) == 1


def test_unhealthy_is_rolled_back_and_remembered(host):
    content = '{"storage-driver": "btrfs"}\n'
    (host / "daemon.json").chmod(0o644)
    _, state = rollout(host, content)
    assert state["result"] == "rolled-back" and "not healthy within 4 s" in state["reason"]
    assert (host / "daemon.json").read_text() == '{"old": true}\n'
    # The backup is 0600 whatever it holds; the previous file comes back with its own mode.
    assert oct((host / "daemon.json.dockwright-bak").stat().st_mode & 0o777) == "0o600"
    assert oct((host / "daemon.json").stat().st_mode & 0o777) == "0o644"
    assert kv(host / "failed")["sha256"] == sha(content)
    assert (host / "daemon.json.dockwright-failed").read_text() == content
    assert restarts(host) == 2 and (host / "state").read_text().strip() == "up"


def test_rejected_by_validate_touches_nothing(host):
    _, state = rollout(host, '{"bogus": 1}\n')
    assert state["result"] == "rejected" and restarts(host) == 0
    assert (host / "daemon.json").read_text() == '{"old": true}\n'


def test_containers_that_would_stop_are_refused_unless_allowed(host):
    (host / "ps").write_text("abc\n")
    (host / "inspect").write_text("abc no 2026-11-28T09:00:00Z /web\n")
    _, state = rollout(host, '{"new": true}\n')
    assert state["result"] == "refused" and "web" in state["reason"] and restarts(host) == 0
    _, state = rollout(host, '{"new": true}\n', allow_stop=True)
    assert state["result"] == "applied"


def test_live_restore_kept_expects_the_same_start_time(host):
    (host / "live_restore").write_text("true\n")
    (host / "ps").write_text("abc\n")
    (host / "inspect").write_text("abc no 2026-11-28T09:00:00Z /web\n")
    # live-restore stays on: the container is expected to keep running, so no refusal
    _, state = rollout(host, '{"live-restore": true, "x": 1}\n', live_restore=True)
    assert state["result"] == "applied"
    # ... and a container that restarted anyway fails the gate (rolled back)
    (host / "running").write_text("true 2026-11-28T09:09:09Z\n")
    _, state = rollout(host, '{"live-restore": true, "x": 2}\n', live_restore=True)
    assert state["result"] == "rolled-back"
    # turning it off: the new dockerd kills what the old one kept, policy or not: refused
    (host / "inspect").write_text("abc always 2026-11-28T09:00:00Z /web\n")
    _, state = rollout(host, '{"live-restore": false}\n', live_restore=False)
    assert state["result"] == "refused" and "web" in state["reason"]


def test_restart_policy_containers_must_come_back_when_live_restore_was_off(host):
    (host / "ps").write_text("abc\n")
    (host / "inspect").write_text("abc unless-stopped 2026-11-28T09:00:00Z /web\n")
    (host / "running").write_text("false 2026-11-28T09:00:00Z\n")  # it does not come back
    _, state = rollout(host, '{"new": true}\n')
    assert state["result"] == "rolled-back"  # the rollback only needs the daemon back
    (host / "running").write_text("true 2026-11-28T09:10:00Z\n")  # it does
    _, state = rollout(host, '{"new": 2}\n')
    assert state["result"] == "applied"


def test_a_second_rollout_on_the_same_host_is_busy(host):
    holder = subprocess.Popen(["flock", str(host / "rollout.lock"), "sleep", "5"])
    try:
        import time
        time.sleep(0.3)
        res, state = rollout(host, '{"new": true}\n', run_id="r2")
        assert "dockwright-result: busy" in res.stdout and state.get("run") != "r2" and restarts(host) == 0
        assert "result=busy" in (host / "result.r2").read_text()
    finally:
        holder.kill()


def test_the_journal_is_on_disk_before_the_swap_with_its_recovery_installed(host):
    _, state = rollout(host, '{"new": true}\n')
    journal = kv(host / "state-at-restart")  # rollout.state when dockerd was restarted
    assert journal["result"] == "started" and journal["run"] == "r1" and journal["seen"] == "0"
    assert journal["sha256"] == sha('{"new": true}\n') and journal["previous"] == sha('{"old": true}\n')
    unit = (host / "systemd" / "dockwright-rollout-recover.service").read_text()
    assert f"ExecStart=/bin/sh {host / 'daemon-apply.sh'} - recover" in unit
    assert (host / "systemd" / "docker.service.d" / "dockwright-recover.conf").read_text() == \
        "[Unit]\nOnFailure=dockwright-rollout-recover.service\n"
    assert state["result"] == "applied" and "previous" not in state  # the outcome replaces the journal


def _killed_mid_restart(host, content):
    """The rollout's own process killed while dockerd restarts (a reboot, an OOM kill, its
    unit stopped): the journal is what is left."""
    (host / "hang").write_text("")
    proc = subprocess.Popen(["sh", str(script(host, content)), "r1", "apply"], env=env(host),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(600):  # up to 30 s on a loaded machine
        if (host / "hang.pid").exists() and (host / "hang.pid").read_text().strip():
            break
        time.sleep(0.05)
    # All of it, as systemd kills a unit's cgroup: `timeout` runs the restart in a group of its own.
    hung = int((host / "hang.pid").read_text())
    timeout_pid = int(Path(f"/proc/{hung}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.killpg(proc.pid, signal.SIGKILL)  # the script first: nothing of it may run on
    for pid in (timeout_pid, hung):
        with contextlib.suppress(ProcessLookupError):  # one may end on its own meanwhile
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    (host / "hang").unlink()
    assert kv(host / "rollout.state")["result"] == "started"
    assert (host / "daemon.json").read_text() == content  # swapped, never judged


def test_killed_after_the_swap_with_dockerd_down_is_rolled_back_by_whatever_finds_it(host):
    content = '{"storage-driver": "btrfs"}\n'
    _killed_mid_restart(host, content)
    (host / "state").write_text("failed\n")  # dockerd failed on the candidate meanwhile
    res, state = rollout(host, '{"unrelated": 1}\n', run_id="-", mode="recover")  # the boot's unit
    assert state["result"] == "rolled-back" and state["sha256"] == sha(content), res.stdout
    assert "interrupted" in state["reason"] and state["seen"] == "0" and state["run"] == ""
    assert (host / "daemon.json").read_text() == '{"old": true}\n' and (host / "state").read_text() == "up\n"
    assert kv(host / "failed")["sha256"] == sha(content)  # not retried on its own
    # A later recovery (the waiting run, the next run) finds nothing left and reports that outcome.
    res, state = rollout(host, '{"unrelated": 1}\n', run_id="r2", mode="recover")
    assert kv(host / "result.r2")["result"] == "rolled-back" and kv(host / "result.r2")["run"] == "r2"


def test_killed_after_the_swap_with_dockerd_healthy_is_finished_as_applied(host):
    content = '{"new": true}\n'
    _killed_mid_restart(host, content)
    (host / "failed").write_text("sha256=old\n")
    _, state = rollout(host, content, run_id="r2", mode="recover")
    assert state["result"] == "applied" and state["run"] == "r2" and state["sha256"] == sha(content)
    assert (host / "daemon.json").read_text() == content and not (host / "failed").exists()


def test_a_stopped_dockerd_is_started_once_before_it_is_judged(host):
    _killed_mid_restart(host, '{"new": true}\n')
    (host / "state").write_text("down\n")
    _, state = rollout(host, '{"new": true}\n', run_id="r2", mode="recover")
    assert state["result"] == "applied" and (host / "restarts").read_text().split() == ["restart", "start"]


def test_interrupted_before_the_swap_changes_nothing(host):
    old = (host / "daemon.json").read_text()
    (host / "rollout.state").write_text(f"result=started\nsha256={sha('{}')}\nprevious={sha(old)}\n"
                                       "swarm=inactive\nat=x\nrun=r0\nseen=0\n")
    _, state = rollout(host, '{"new": true}\n', run_id="r2", mode="recover")
    assert state["result"] == "failed" and "nothing changed" in state["reason"] and restarts(host) == 0
    assert (host / "daemon.json").read_text() == '{"old": true}\n' and not (host / "failed").exists()


def test_a_new_rollout_recovers_an_unfinished_one_first_and_leaves_its_own_candidate(host):
    _killed_mid_restart(host, '{"storage-driver": "btrfs"}\n')
    (host / "state").write_text("failed\n")
    res, state = rollout(host, '{"next": true}\n', run_id="r2")
    assert state["result"] == "rolled-back" and "left to the next run" in res.stdout
    assert (host / "daemon.json").read_text() == '{"old": true}\n'


def test_a_recovery_with_nothing_to_recover_says_none(host):
    res, state = rollout(host, '{"new": true}\n', run_id="r2", mode="recover")
    assert "dockwright-result: none" in res.stdout and kv(host / "result.r2")["result"] == "none"
    assert state == {} and restarts(host) == 0
