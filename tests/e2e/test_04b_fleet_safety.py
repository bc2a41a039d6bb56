"""A rollout that survives its controller, never retries a failed config, batches by group,
works through sudo, keeps one swarm, and gates live-restore by what dockerd does."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import (INVENTORY, NO_VERIFY, REPO, STANDALONE, SWARM, dockerd_started, drift, failed_checks, lab_env,
                       probe_image, pyinfra, ssh, verify)

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first

STATE = "/var/lib/dockwright/rollout.state"
SLOW = "/run/systemd/system/docker.service.d/dw-test-slow.conf"


def _daemon_json(host):
    return json.loads(ssh(host, "cat /etc/docker/daemon.json"))


@STANDALONE
def test_controller_killed_during_the_restart_leaves_the_host_healthy():
    """The controller (and its SSH session) dies while dockerd restarts: the host ends
    healthy on the new file or the old one, and the next run says which."""
    value = "9" if _daemon_json("lab3")["log-opts"]["max-file"] == "6" else "6"  # always a change
    data = {"lab3": {"docker": {"daemon": {"log-opts": {"max-file": value}}}}}
    # A slow start (15 s before dockerd runs) gives a window in which to kill the controller.
    ssh("lab3", f"mkdir -p {SLOW.rsplit('/', 1)[0]} && printf '[Service]\\nExecStartPre=/bin/sleep 15\\n' > {SLOW} "
                "&& systemctl daemon-reload")
    proc = subprocess.Popen([sys.executable, "-m", "pyinfra", INVENTORY, "deploy.py", "-y", "--limit", "lab3",
                             *NO_VERIFY], cwd=REPO, env=lab_env(data), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and ssh("lab3", "systemctl is-active docker", check=False).strip() != "activating":
            time.sleep(0.5)
        assert proc.poll() is None, "the run ended before the restart"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the controller and its SSH session, mid-restart
        proc.wait()
        ssh("lab3", f"rm -f {SLOW} && systemctl daemon-reload")
    # The rollout goes on without its controller; wait for its outcome on the host (its journal,
    # result=started, is not one).
    state = _settled()
    assert state["seen"] == "0" and state["result"] in ("applied", "rolled-back"), state
    assert ssh("lab3", "systemctl is-active docker; docker info --format '{{.ServerVersion}}' >/dev/null && echo ok"
               ).split() == ["active", "ok"]
    assert (_daemon_json("lab3")["log-opts"]["max-file"] == value) == (state["result"] == "applied")
    res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=data)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and f"ended while no run was watching: {state['result']}" in out
    assert "seen=1" in ssh("lab3", f"cat {STATE}")
    assert pyinfra("--limit", "lab3", *NO_VERIFY).returncode == 0  # back to the data


def _kill_the_rollout_after_its_journal(waiter_too: bool) -> None:
    """Plants, on lab3, a watcher that kills the rollout's own unit 2 s after the next rollout
    journals itself (mid-restart: standing in for a reboot, an OOM kill or `systemctl stop`),
    and with waiter_too the run's waiting command as well, so that no run is left watching.
    The journal as it was at the kill is kept in /run/dw-journal."""
    _settled()  # no rollout of an earlier scenario still running: the watcher waits for a new one
    before = _state().get("run", "")
    # The waiter first: killed after the rollout, it could see the rollout gone and start the
    # recovery itself in between (then a run, not the host, recovers it).
    kill_waiter = "pkill -KILL -f 'dockwright/result[.]'; " if waiter_too else ""
    ssh("lab3", "rm -f /run/dw-journal; nohup sh -c \"for i in \\$(seq 3000); do grep -q '^result=started' "
                f"{STATE} && ! grep -qx 'run={before}' {STATE} && break; sleep 0.2; done; "
                f"cp {STATE} /run/dw-journal; sleep 2; "
                f"{kill_waiter}systemctl kill -s KILL 'dockwright-daemon-apply-*'\" >/dev/null 2>&1 &")


def _state(host="lab3") -> dict:
    return dict(x.split("=", 1) for x in ssh(host, f"cat {STATE} 2>/dev/null", check=False).split("\n") if "=" in x)


def _settled(host="lab3", bound=400) -> dict:
    """The host's last rollout outcome once no rollout is under way (its journal is not one)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline and _state(host).get("result") == "started":
        time.sleep(2)
    return _state(host)


@STANDALONE
def test_a_rollout_killed_after_the_swap_is_recovered_from_its_journal():
    """The rollout's own unit is killed mid-restart. A candidate that stops dockerd, with no run
    left watching: the host rolls itself back (the recovery unit, on dockerd's failure), and
    the next run says so. A healthy candidate, the run still waiting: that run recovers it."""
    before = ssh("lab3", "cat /etc/docker/daemon.json")
    bad = {"lab3": {"docker": {"daemon": {"storage-driver": "btrfs"}, "retry_failed": True}}}
    _kill_the_rollout_after_its_journal(waiter_too=True)
    res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=bad)
    assert res.returncode != 0 and "gave no outcome" in res.stdout + res.stderr
    journal = dict(x.split("=", 1) for x in ssh("lab3", "cat /run/dw-journal").split("\n") if "=" in x)
    assert journal["result"] == "started"
    assert journal["previous"] == ssh("lab3", "sha256sum < /etc/docker/daemon.json.dockwright-bak").split()[0]
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and _state()["result"] == "started":
        time.sleep(3)
    state = _state()
    assert state["result"] == "rolled-back" and "interrupted" in state["reason"] and state["seen"] == "0", state
    assert state["sha256"] == journal["sha256"] and state["run"] == ""  # by the host's own recovery unit
    assert ssh("lab3", "cat /etc/docker/daemon.json") == before
    assert ssh("lab3", "systemctl is-active docker; docker info --format '{{.Driver}}'").split() == ["active", "overlay2"]
    res = pyinfra("--limit", "lab3", *NO_VERIFY)
    assert res.returncode == 0 and "ended while no run was watching: rolled-back" in res.stdout + res.stderr

    value = "9" if _daemon_json("lab3")["log-opts"]["max-file"] == "6" else "6"
    _kill_the_rollout_after_its_journal(waiter_too=False)
    res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data={"lab3": {"docker": {"daemon": {"log-opts": {"max-file": value}}}}})
    out = res.stdout + res.stderr
    assert "recovering it from its journal" in out and res.returncode == 0, out[-2000:]
    assert _state()["result"] == "applied" and _state()["seen"] == "1"
    assert _daemon_json("lab3")["log-opts"]["max-file"] == value
    assert pyinfra("--limit", "lab3", *NO_VERIFY).returncode == 0  # back to the data


@STANDALONE
def test_a_rolled_back_config_is_not_retried_by_drift_fix():
    data = {"lab3": {"docker": {"daemon": {"storage-driver": "btrfs"}}}}
    # Tried whatever an earlier run left (this scenario may be re-run after a VM panic), and
    # rolled back: from here the candidate is known to fail.
    res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data={"lab3": {"docker": {
        "daemon": {"storage-driver": "btrfs"}, "retry_failed": True}}})
    assert res.returncode != 0 and "rolled back to the previous daemon.json" in res.stdout + res.stderr
    started = dockerd_started("lab3")
    res = drift("--fix", "--limit", "lab3", host_data=data)
    assert res.returncode == 1
    assert "candidate rolled back before, not retried" in res.stdout
    assert dockerd_started("lab3") == started, "dockerd was restarted for a config known to fail"
    # An explicit retry tries it once more (and it is rolled back again).
    res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data={"lab3": {"docker": {
        "daemon": {"storage-driver": "btrfs"}, "retry_failed": True}}})
    assert res.returncode != 0 and dockerd_started("lab3") != started


def _windows(hosts):
    """(host, down from, up again) of dockerd's last restart per host, in the controller's
    clock: systemd's monotonic stamps (microseconds) turned into the VM's wall clock, and the
    VM's offset from the controller taken out."""
    out = []
    for h in hosts:
        t0 = time.time()
        # By name: `systemctl show --value` prints properties in systemd's order, not the asked one.
        text = ssh(h, "systemctl show docker -p InactiveEnterTimestampMonotonic -p ActiveEnterTimestampMonotonic; "
                      "python3 -c 'import time; print(time.time(), time.monotonic())'")
        t1 = time.time()
        props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        down_us, up_us = props["InactiveEnterTimestampMonotonic"], props["ActiveEnterTimestampMonotonic"]
        wall, mono = text.splitlines()[-1].split()
        offset = float(wall) - (t0 + t1) / 2
        to_wall = lambda us: float(wall) - (float(mono) - int(us) / 1e6) - offset  # noqa: E731
        out.append((h, to_wall(down_us), to_wall(up_us)))
    return out


LEASE = "dockwright-manager-restart"


def _plant_lease(holder: str, seconds: int) -> None:
    """The swarm's manager-restart lease as another controller would hold it (on lab1)."""
    ssh("lab1", f"docker config rm {LEASE} >/dev/null 2>&1; echo lease | docker config create "
                f"--label dockwright.holder={holder} --label dockwright.seconds={seconds} {LEASE} - >/dev/null")


@SWARM
def test_a_manager_is_not_restarted_while_another_controller_holds_the_lease():
    """Another controller (a scheduled fix, a colleague) is restarting a manager: this run
    leaves the swarm's managers alone, and says who holds the lease."""
    _plant_lease("other-controller", 3600)
    started = dockerd_started("lab1")
    try:
        res = pyinfra("--limit", "lab1", *NO_VERIFY, host_data={"lab1": {"docker": {"daemon": {"log-opts": {"max-file": "5"}}}}})
        out = res.stdout + res.stderr
        assert res.returncode != 0 and "another controller (other-controller) holds the swarm's manager-restart lease" in out
        assert dockerd_started("lab1") == started and _daemon_json("lab1")["log-opts"]["max-file"] != "5"
    finally:
        ssh("lab1", f"docker config rm {LEASE} >/dev/null 2>&1", check=False)


def test_batches_per_group_hold_even_with_no_wait():
    """Different restart_batch per group (pyinfra's _parallel would crash) and --no-wait: the
    two non-managers share batch 1 and are never down together; the manager goes alone."""
    data = {h: {"docker": {"daemon": {"log-opts": {"max-file": "7"}}}} for h in ("lab1", "lab2", "lab3")}
    data["lab1"]["docker"]["restart_batch"] = 3  # a manager: one at a time whatever the group says
    data["lab2"]["docker"]["restart_batch"] = 1
    data["lab3"]["docker"]["restart_batch"] = 1
    started = {h: dockerd_started(h) for h in data}
    # A lease left by a controller that died (its time and the clock margin are up): taken
    # over, then released.
    _plant_lease("dead-controller", -600)
    res = pyinfra("--no-wait", *NO_VERIFY, host_data=data)
    assert res.returncode == 0, res.stdout[-3000:]
    assert all(dockerd_started(h) != started[h] for h in data), "every host restarts once"
    assert ssh("lab1", f"docker config ls -q --filter name={LEASE}").strip() == ""
    windows = _windows(["lab2", "lab3"])
    (_, a0, a1), (_, b0, b1) = windows
    print("restart windows (controller clock):", windows)
    assert a0 < a1 and b0 < b1, f"a window ends before it starts: {windows}"
    assert a1 < b0 or b1 < a0, f"lab2 and lab3 were down at the same time: {windows}"
    assert pyinfra(*NO_VERIFY).returncode == 0  # back to the data


@STANDALONE
def test_live_restore_off_and_on_on_the_standalone_host():
    image = probe_image("lab3")
    ssh("lab3", "docker rm -f lr-plain lr-policy >/dev/null 2>&1; "
                f"docker run -d --pull never --name lr-plain {image} sleep >/dev/null; "
                f"docker run -d --pull never --restart unless-stopped --name lr-policy {image} sleep >/dev/null")
    off = {"lab3": {"docker": {"daemon": {"live-restore": False}}}}
    try:
        started = dockerd_started("lab3")
        res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=off)
        out = res.stdout + res.stderr
        assert res.returncode != 0 and "would stop and not come back" in out and "lr-plain" in out
        assert dockerd_started("lab3") == started and _daemon_json("lab3")["live-restore"] is True
        # Allowed: live-restore goes off. The new dockerd kills what the old one kept running and
        # does not start it again (seen on Engine 20.10, restart policy or not): the gate does
        # not wait for it.
        off["lab3"]["docker"]["allow_container_stop"] = True
        res = pyinfra("--limit", "lab3", *NO_VERIFY, host_data=off)
        out = res.stdout + res.stderr
        assert res.returncode == 0 and "will stop (allowed by the data)" in out
        assert _daemon_json("lab3")["live-restore"] is False
        assert ssh("lab3", "docker inspect -f '{{.State.Running}}' lr-plain").strip() == "false"
        # On again (the data's value): dockerd stops containers at shutdown and starts those
        # with a restart policy; the gate waits for lr-policy to run again.
        ssh("lab3", "docker start lr-policy >/dev/null; docker rm -f lr-plain >/dev/null")
        res = pyinfra("--limit", "lab3", *NO_VERIFY)
        assert res.returncode == 0 and _daemon_json("lab3")["live-restore"] is True
        assert ssh("lab3", "docker inspect -f '{{.State.Running}}' lr-policy").strip() == "true"
    finally:
        ssh("lab3", "docker rm -f lr-plain lr-policy >/dev/null 2>&1", check=False)


@SWARM
def test_deploy_verify_and_drift_through_sudo():
    """As a non-root user: the deploy and its verification through pyinfra's --sudo flag alone
    (no _sudo in the host data), drift and the standalone verification through _sudo data."""
    sudo = {"DOCKWRIGHT_LAB_USER": "dw"}
    assert ssh("lab2", "id -u dw && sudo -n -u dw id -u").split()[1] != "0"
    res = pyinfra("--limit", "lab2", "--sudo", host_data={"lab2": {"docker": {"daemon": {"log-opts": {"max-file": "8"}}}}},
                  env=dict(sudo, DOCKWRIGHT_LAB_SUDO="flag"))
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "dockerd healthy with the new daemon.json" in out, failed_checks()
    assert "lab2: " in out and "0 failed" in out.split("  lab2: ", 1)[1].splitlines()[0]
    assert _daemon_json("lab2")["log-opts"]["max-file"] == "8"
    res = drift("--limit", "lab2", env=sudo)
    assert res.returncode == 2 and "log-opts.max-file: desired '3', actual '8'" in res.stdout
    # The fix's deploy without its verification: the deploy above verified through sudo.
    assert drift("--fix", "--limit", "lab2", *NO_VERIFY, env=sudo).returncode == 2
    assert drift("--limit", "lab2", env=sudo).returncode == 0
    assert verify("--limit", "lab2", "-k", "daemon_json", env=sudo).returncode == 0


def test_limit_run_with_a_new_first_manager_joins_the_existing_swarm():
    """lab3 shows up as "lab0", a new manager that sorts before lab1. Run with --limit lab0
    only: it must join lab1's swarm (asked outside the limit), not found a second one."""
    names = {"DOCKWRIGHT_LAB_NAMES": json.dumps({"lab3": "lab0"})}
    data = {"lab0": {"swarm": {"role": "manager"}, "docker": {"daemon": {"live-restore": False}}}}
    cluster = ssh("lab1", "docker info --format '{{.Swarm.Cluster.ID}}'").strip()
    try:
        res = pyinfra("--limit", "lab0", *NO_VERIFY, host_data=data, env=names)
        out = res.stdout + res.stderr
        assert res.returncode == 0, out[-3000:]
        assert "swarm: join as manager" in out and "swarm: init" not in out
        assert ssh("lab3", "docker info --format '{{.Swarm.Cluster.ID}} {{.Swarm.ControlAvailable}}'").split() == \
            [cluster, "true"]
    finally:
        ssh("lab1", "docker node demote lab3 >/dev/null 2>&1", check=False)
        ssh("lab3", "docker swarm leave --force >/dev/null 2>&1", check=False)
        ssh("lab1", "sleep 5; docker node ls --format '{{.ID}} {{.Hostname}}' | awk '$2 == \"lab3\" {print $1}' "
                    "| xargs -r docker node rm --force >/dev/null 2>&1", check=False)
    assert pyinfra("--limit", "lab3", *NO_VERIFY).returncode == 0  # standalone again, live-restore on
