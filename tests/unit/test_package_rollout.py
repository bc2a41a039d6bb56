"""The engine package's host-side rollout (templates/docker/package-apply.sh.j2) run by sh, with
stand-ins for apt-get, dpkg-query, apt-mark, systemctl and docker that keep a fake host's state
in files: each outcome, and what the host is left with. The same script on a real host (lab3,
against a local signed repository) is tests/e2e/test_16_engine_repository.py."""

import fcntl
import subprocess

import pytest

from dockwright import templating
from dockwright.facts.engine import parse_kv

from .helpers import executables

STANDINS = {
    # dpkg-query -W -f='${Version}' PACKAGE
    "dpkg-query": 'cat "$T/version"',
    # apt-get install ... PACKAGE or PACKAGE=VERSION: the pinned candidate, or that version.
    "apt-get": """
[ "$1" != update ] || { echo "apt-get update" >> "$T/calls"; exit 0; }
rc=$(cat "$T/apt_rc" 2>/dev/null || echo 0)
[ "$rc" = 0 ] || { echo "E: stand-in apt failed"; exit "$rc"; }
for a in "$@"; do case "$a" in *=*) want=${a#*=};; -*) ;; *) want=$(cat "$T/candidate");; esac; done
echo "$want" > "$T/version"; echo "apt-get $*" >> "$T/calls"
""",
    "apt-mark": 'echo "$*" >> "$T/holds"',
    "systemctl": """
case "$1" in
  is-active) [ "$(cat "$T/daemon")" = up ];;
  is-failed) [ "$(cat "$T/daemon")" = failed ];;
  restart) if grep -qx "$(cat "$T/version")" "$T/broken" 2>/dev/null; then echo failed > "$T/daemon"; exit 1;
           else echo up > "$T/daemon"; fi;;
  *) exit 0;;
esac
""",
    "docker": """
[ "$(cat "$T/daemon")" = up ] || exit 1
case "$*" in
  *LiveRestoreEnabled*) cat "$T/live";;
  *LocalNodeState*) echo inactive;;
  "ps -q") cut -d' ' -f1 "$T/containers" 2>/dev/null;;
  inspect*) for a; do id=$a; done; grep "^$id " "$T/containers" | cut -d' ' -f2-;;
esac
""",
    "journalctl": "true",
}


@pytest.fixture
def host(tmp_path):
    executables(tmp_path / "bin", {name: "#!/bin/sh\n" + body for name, body in STANDINS.items()})
    for name, text in (("version", "1.0"), ("candidate", "2.0"), ("daemon", "up"), ("live", "false")):
        (tmp_path / name).write_text(text + "\n")
    return tmp_path


def rollout(t, allow_stop=False, holds="docker.io", update=""):
    script = templating.render(
        "docker/package-apply.sh.j2", dir=str(t / "state"), log=str(t / "state" / "package.log"),
        failed=str(t / "state" / "package.failed"), package="docker.io", pinned="2.0", holds=holds,
        timeout=4, apt_timeout=30, allow_stop=str(allow_stop).lower(), update=update)
    (t / "script.sh").write_text(script)
    subprocess.run(["sh", str(t / "script.sh"), "run1"], check=True, timeout=60,
                   env={"PATH": f"{t / 'bin'}:/usr/bin:/bin", "T": str(t)})
    result = parse_kv((t / "state" / "package.result.run1").read_text().splitlines())
    return result, (t / "version").read_text().strip()


def test_an_upgrade_whose_daemon_comes_back_is_applied_and_held(host):
    result, version = rollout(host)
    assert (result["result"], result["previous"], version) == ("applied", "1.0", "2.0")
    assert (host / "holds").read_text() == "hold docker.io\n"
    assert not (host / "state" / "package.failed").exists()
    assert not (host / "state" / "package.pid").exists()


def test_from_a_repository_its_index_is_refreshed_first(host):
    result, version = rollout(host, update="apt-get update -q")
    assert (result["result"], version) == ("applied", "2.0")
    assert (host / "calls").read_text().splitlines()[0] == "apt-get update"


def test_an_upgrade_whose_daemon_does_not_come_back_is_rolled_back_and_remembered(host):
    (host / "broken").write_text("2.0\n")
    result, version = rollout(host)
    assert (result["result"], version) == ("rolled-back", "1.0")
    assert "dockerd failed to start on docker.io 2.0" in result["reason"]
    assert (host / "daemon").read_text().strip() == "up"
    failed = parse_kv((host / "state" / "package.failed").read_text().splitlines())
    assert (failed["version"], failed["installed"]) == ("2.0", "2.0")
    assert "apt-get" in (host / "calls").read_text() and "docker.io=1.0" in (host / "calls").read_text()
    assert (host / "holds").read_text() == "hold docker.io\n"  # held again, at the version before


def test_neither_version_healthy_is_broken_never_applied(host):
    (host / "broken").write_text("2.0\n1.0\n")
    result, _ = rollout(host)
    assert result["result"] == "broken" and "not healthy on docker.io 1.0 either" in result["reason"]


def test_apt_that_changes_nothing_fails_without_a_restart(host):
    (host / "apt_rc").write_text("100\n")
    result, version = rollout(host)
    assert (result["result"], version) == ("failed", "1.0")
    assert "exit 100" in result["reason"]
    assert not (host / "state" / "package.failed").exists()  # nothing to remember: tried again later


def test_running_containers_without_a_restart_policy_refuse_the_restart(host):
    (host / "containers").write_text("c1 always /db\nc2 no /web\nc3 on-failure /job\n")
    result, version = rollout(host)
    assert (result["result"], version) == ("refused", "1.0")
    assert "web job" in result["reason"] and "db" not in result["reason"].split(":")[1]
    assert not (host / "calls").exists()  # apt never ran
    # Allowed by the data, or kept running by live-restore: the rollout goes on.
    result, version = rollout(host, allow_stop=True)
    assert (result["result"], version) == ("applied", "2.0")
    (host / "version").write_text("1.0\n")
    (host / "live").write_text("true\n")
    result, version = rollout(host)
    assert (result["result"], version) == ("applied", "2.0")


def test_a_rollout_already_running_on_the_host_makes_this_one_busy(host):
    (host / "state").mkdir()
    with open(host / "state" / "rollout.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result, version = rollout(host)
    assert (result["result"], version) == ("busy", "1.0")
