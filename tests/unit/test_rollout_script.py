"""The host-side rollout script, run here with stand-ins for dockerd, docker and systemctl.

The stand-ins keep a tiny model of a daemon: `systemctl restart docker` reads the live
daemon.json and comes up unless it asks for btrfs; `dockerd --validate` rejects a key named
"bogus". The lab proves the same paths against a real dockerd (tests/e2e/test_04_daemon.py).
"""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from dockwright import templating

FAKES = {
    "systemctl": """#!/bin/sh
case "$1" in
  restart) echo restart >> "$FAKE/restarts"
           if grep -q btrfs "$FAKE/daemon.json" 2>/dev/null; then echo failed > "$FAKE/state"; else echo up > "$FAKE/state"; fi ;;
  is-active) [ "$(cat "$FAKE/state")" = up ] ;;
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
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in FAKES.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "state").write_text("up\n")
    (tmp_path / "live_restore").write_text("false\n")
    (tmp_path / "ps").write_text("")
    (tmp_path / "inspect").write_text("")
    (tmp_path / "running").write_text("true 2026-11-28T09:00:00Z\n")
    (tmp_path / "daemon.json").write_text('{"old": true}\n')
    return tmp_path


def rollout(host: Path, content: str, allow_stop=False, live_restore=False, run_id="r1"):
    (host / "candidate").write_text(content)
    script = templating.render(
        "docker/daemon-apply.sh.j2", path=host / "daemon.json", timeout=4, dir=host,
        candidate=host / "candidate", state=host / "rollout.state", log=host / "rollout.log",
        failed=host / "failed", sha=hashlib.sha256(content.encode()).hexdigest(),
        new_live_restore=str(live_restore).lower(), allow_stop=str(allow_stop).lower(), mode="0644")
    env = dict(os.environ, FAKE=str(host), PATH=f"{host / 'bin'}:{os.environ['PATH']}")
    res = subprocess.run(["sh", "-c", script, "sh", run_id], env=env, capture_output=True, text=True, timeout=60)
    state = dict(line.split("=", 1) for line in (host / "rollout.state").read_text().splitlines()) \
        if (host / "rollout.state").exists() else {}
    return res, state


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
    _, state = rollout(host, content)
    assert state["result"] == "rolled-back" and "not healthy within 4 s" in state["reason"]
    assert (host / "daemon.json").read_text() == '{"old": true}\n'
    failed = dict(line.split("=", 1) for line in (host / "failed").read_text().splitlines())
    assert failed["sha256"] == hashlib.sha256(content.encode()).hexdigest()
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
    assert state["result"] == "broken" or state["result"] == "rolled-back"
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
