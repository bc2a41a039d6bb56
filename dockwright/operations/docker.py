"""The Docker engine and /etc/docker/daemon.json: validated, restarted only on change, a few
hosts at a time, and rolled back when the daemon does not come back healthy."""

import json
import posixpath
import shlex
import uuid

from pyinfra import host
from pyinfra.api import FunctionCommand, operation

from .. import dockerd, facts, factcache, outcomes, platform, refusal, remote, secrets, templating
from ..facts.engine import DockerEngine, SwarmState, parse_kv
# Host-side files of the rollout (root only): the candidate, the script, its outcome, and the
# last candidate that had to be rolled back (so that it is not retried on its own).
from ..host_paths import (CANDIDATE, DAEMON_JSON, FAILED_CANDIDATE, ROLLOUT_LOG, ROLLOUT_PID,
                          ROLLOUT_SCRIPT, ROLLOUT_STATE, STATE_DIR, SYSTEMD_DIR)
from ..facts.networks import DockerNetworks
from .. import restarts
from . import package as package_ops
from ..plans import sha256
from ..plans.docker import (daemon_plan, engine_plan, interrupted, live_restore, needs_swarm_state,
                            restart_slot)


@operation()
def engine(package: str = "docker.io", conf: dict | None = None):
    """
    Docker installed, enabled and running; with docker's data (``conf``), from where the data
    says: dockwright's apt files for the engine first (``package.apt_files``: a repository and
    its key, the version pin), then the install.

    + package: ``docker.io`` (Debian) or ``docker-ce`` (Docker's packages, from the repository
      ``docker.source: repository`` sets up)
    + conf: docker's data (``source``, ``repository``, ``version``, ``hold``); None leaves apt's
      sources as they are

    **Example:**

    .. code:: python

        docker.engine(name="Docker engine", package="docker.io", conf=model.desired(host)["docker"])
    """
    engine_state = facts.docker_engine().get(host)
    decided = engine_plan(engine_state)
    outcomes.record(host, "docker", decided)
    if decided.error():
        yield from refusal.refuse(host, f"docker engine: {decided.error()}")
        return
    apt = list(package_ops.apt_files(host, conf, engine_state)) if conf is not None else []
    yield from apt
    if decided.install:
        yield platform.of(engine_state["os"]).install(package)
    if decided.enable:
        yield "systemctl enable docker.service"
    if decided.start:
        yield "systemctl start docker.service"
    if decided.items or apt:  # the later operations read the installed unit and a started dockerd again
        yield factcache.forget_after(*((DockerEngine, DockerNetworks, SwarmState) if decided.start else (DockerEngine,)))


UNIT = "dockwright-daemon-apply"  # the rollout's transient unit

def rollout_script(content: str, health_timeout: int, path: str = DAEMON_JSON,
                   allow_container_stop: bool = False, secret_keys: tuple = ()) -> str:
    """The host-side rollout for this candidate (the content itself travels on stdin). The file
    is 0600 when it holds a secret, else 0644; backups and a failed copy are always 0600."""
    mode = "0600" if secrets.holds_secret(json.loads(content), secret_keys) else "0644"
    return templating.render(
        "docker/daemon-apply.sh.j2", path=shlex.quote(path), timeout=int(health_timeout), mode=mode,
        dir=STATE_DIR, candidate=CANDIDATE, state=ROLLOUT_STATE, log=ROLLOUT_LOG, failed=FAILED_CANDIDATE,
        script=ROLLOUT_SCRIPT, systemd_dir=SYSTEMD_DIR,
        sha=sha256(content), has_validate=dockerd.HAS_VALIDATE,
        new_live_restore=str(live_restore(content)).lower(),
        allow_stop=str(bool(allow_container_stop)).lower())


def space_check(size: int, paths: tuple = (STATE_DIR, DAEMON_JSON)) -> str:
    """A shell test that fails at once, naming the place, when the filesystem of a path the
    rollout writes (the staged candidate, its copies beside daemon.json, the outcome files)
    has less room than they need: a full disk must fail in seconds, not leave an empty file
    and a rollout that never reports."""
    need = 4 * (size // 1024 + 1) + 64  # KiB for a file of size bytes: candidate, new, backup, failed, state
    checks = []
    for path in paths:
        d = posixpath.dirname(path.rstrip("/")) or "/"
        checks.append(f"d={shlex.quote(d)}; while [ ! -d \"$d\" ]; do d=$(dirname \"$d\"); done; "
                      f"a=$(df -Pk \"$d\" | awk 'NR==2 {{print $4}}'); [ \"${{a:-0}}\" -ge {need} ] || "
                      f"{{ echo \"no space for the rollout in $d ({shlex.quote(path)}): ${{a:-?}} KiB free, "
                      f"{need} KiB needed\" >&2; exit 28; }}")
    return "{ " + "; ".join(checks) + "; }"


def start_and_wait(script: str, run_id: str, timeout: int, mode: str = "apply") -> str:
    """The command that writes the rollout script, starts it detached (a transient unit where
    systemd-run can reach systemd, else its own session: if this SSH session drops, the rollout
    runs on to its end) and waits, with a bound, for this run's outcome. A rollout that dies
    without one (its unit stopped, an OOM kill) is recovered from its journal by the waiter, once."""
    result_file = f"{STATE_DIR}/result.{run_id}"

    def launch(what: str) -> str:
        unit = f"{UNIT}-{run_id[:12]}" if what == "apply" else f"{UNIT}-{what}-{run_id[:12]}"
        return f"rm -f {ROLLOUT_PID}; " + restarts.detached(unit, 2 * timeout + 600, ROLLOUT_SCRIPT, run_id, what)
    # Gone: its pid file names a process that has ended, or none appeared within 60 s.
    gone = (f"{{ p=$(cat {ROLLOUT_PID} 2>/dev/null); if [ -n \"$p\" ]; then ! kill -0 \"$p\" 2>/dev/null; "
            f"else [ $(date +%s) -ge $(( t0 + 60 )) ]; fi; }}")
    return (
        f"umask 077 && printf '%s' {shlex.quote(script)} > {ROLLOUT_SCRIPT} && {launch(mode)} && "
        f"t0=$(date +%s); end=$(( t0 + {2 * timeout + 660} )); again={'no' if mode == 'apply' else 'done'}; "
        f"while [ ! -f {result_file} ] && [ $(date +%s) -lt $end ]; do sleep 1; "
        f"if [ ! -f {result_file} ] && [ $again = no ] && {gone}; then again=done; "
        f"echo 'log the rollout ended without an outcome: recovering it from its journal'; "
        f"{launch('recover')}; t0=$(date +%s); fi; done; "
        f"sed 's/^/log /' {ROLLOUT_LOG} 2>/dev/null; sed 's/^/state /' {result_file} 2>/dev/null; "
        f"rm -f {result_file}; true")


def _apply(state, host, script: str, content: str, run_id: str, slot: tuple, manager: bool,
           timeout: int, conn: dict, mode: str = "apply"):
    """daemon.json's rollout on host, in its turn (``restarts.turn``: slots, quorum, lease, halt)."""
    return restarts.turn(state, host, script, content, run_id, slot, manager, timeout, conn, mode, _roll, "daemon.json")


def _roll(state, host, script: str, content: str, run_id: str, timeout: int, conn: dict, mode: str):
    """Stages the candidate, starts the rollout on the host, waits for it and judges the outcome:
    (applied, the outcome: "applied", "rolled-back", ... or "unknown" when none came)."""
    if mode == "apply":
        ok, out = remote.run(host, f"{space_check(len(content.encode()))} && install -d -m 0700 {STATE_DIR} && "
                                   f"umask 077 && cat > {CANDIDATE}", conn, stdin=content)
        if not ok:
            host.log_styled(f"daemon.json: cannot stage the candidate: {' '.join(out.stderr_lines)}", fg="red")
            return False, "not-started"
    ok, out = remote.run(host, start_and_wait(script, run_id, timeout, mode), conn)
    if ok and any(x == f"state run={run_id}" for x in out.stdout_lines):
        # Seen by a controller only once it has the outcome in hand: this waiting command
        # goes on without us when the session drops, and must not mark anything then.
        remote.run(host, f"sed -i 's/^seen=0$/seen=1/' {ROLLOUT_STATE}", conn)
    lines = out.stdout_lines if ok else []
    outcome = parse_kv([x[6:] for x in lines if x.startswith("state ")])
    result = outcome.get("result", "unknown") if outcome.get("run") == run_id else "unknown"
    if result == "unknown":
        host.log_styled("daemon.json: the rollout gave no outcome in time; dockwright stops the "
                        "rollout here (its journal on the host is recovered at the next run, boot or "
                        "dockerd failure)", fg="red")
    if result != "busy":
        for line in lines:
            if line.startswith("log ") and not line.startswith("log dockwright-result:"):
                host.log(f"daemon.json: {line[4:]}")
    if result in ("applied", "none"):  # none: a recovery found nothing left to recover
        return True, result
    if result == "busy":
        host.log_styled("daemon.json not applied: another rollout is running on this host", fg="red")
    return False, result


def swarm_if_needed(host, daemon_json: str) -> dict | None:
    """The swarm state when this daemon.json needs it (live-restore, which dockerd refuses on a
    swarm node), else None: the engine fact does not call `docker info`."""
    return facts.swarm().get(host) if needs_swarm_state(daemon_json) else None


@operation()
def daemon_config(content: str, health_timeout: int = 240, path: str = DAEMON_JSON,
                  secret_keys: tuple = (), batch: int = 1, manager: bool = False,
                  allow_container_stop: bool = False, retry_failed: bool = False):
    """
    Install ``content`` as daemon.json when it differs: validated, the old file backed up,
    dockerd restarted and gated on its health, or rolled back.

    The rollout runs on the host as a transient systemd unit, so it ends the same way if the
    SSH session drops; a host-side lock keeps a second rollout (a deploy and a scheduled
    ``drift.py --fix``) off the same host. Health: dockerd active, ``docker info`` answers,
    swarm nodes back to active, and containers as dockerd treats them (kept running when
    live-restore stays on; back up when they have a restart policy). A candidate that had
    to be rolled back is remembered on the host and not tried again until the content
    changes or ``retry_failed`` is set.

    + content: the full daemon.json text
    + health_timeout: seconds dockerd has to come back before the rollback
    + path: the daemon.json path
    + secret_keys: dotted keys whose values are never shown (known credential keys always are)
    + batch: hosts with the same batch size restart at most this many at a time
    + manager: a swarm manager (restarted one at a time, only while the others hold quorum, and
      under a swarm-wide lease so that two controllers never restart two managers at once)
    + allow_container_stop: restart even when running containers without a restart policy
      would stop (live-restore off before or after)
    + retry_failed: try again a candidate that was rolled back before

    **Example:**

    .. code:: python

        from dockwright.plans import docker as docker_plans

        docker.daemon_config(name="daemon.json", content=docker_plans.render(model.desired(host)), batch=2)
    """
    engine_state = facts.docker_engine().get(host)
    swarm_state = None if interrupted(engine_state) else swarm_if_needed(host, content)
    if isinstance(swarm_state, dockerd.Down):  # live-restore depends on it: no guess
        yield from dockerd.unavailable(host, "daemon.json (live-restore needs the swarm state)", swarm_state)
        return
    decided = daemon_plan(content, engine_state, swarm_state, secret_keys, retry_failed)
    outcomes.record(host, "docker", decided)
    slot = restart_slot(manager, batch)
    script = rollout_script(content, health_timeout, path, allow_container_stop, secret_keys)
    if decided.recover:
        # Its rollout died after the journal (a reboot, an OOM kill, its unit stopped) and
        # nothing on the host has recovered it yet: judged and rolled back if unhealthy, now.
        host.log_styled(f"the daemon.json rollout started at {decided.recover.get('at')} ended without an "
                        "outcome: recovering it from its journal", fg="yellow")
        yield FunctionCommand(_apply, (script, content, uuid.uuid4().hex, slot, manager, health_timeout,
                                       remote.connector_args(host), "recover"), {})
        yield factcache.forget_after(DockerEngine, DockerNetworks, SwarmState)
        return
    last = decided.acknowledge
    if last:
        # The controller of that rollout went away before it ended: say how it ended.
        host.log_styled(f"the last daemon.json rollout on this host ended while no run was watching: "
                        f"{last.get('result')} at {last.get('at')}"
                        + (f" ({last['reason']})" if last.get("reason") else ""), fg="yellow")
        yield f"sed -i 's/^seen=0$/seen=1/' {ROLLOUT_STATE}"
    if decided.error():
        yield from refusal.refuse(host, f"daemon.json: {decided.error()}")
        return
    if not decided.apply:
        host.noop("daemon.json is up to date")
        return
    yield FunctionCommand(_apply, (script, content, uuid.uuid4().hex, slot, manager, health_timeout,
                                   remote.connector_args(host)), {})
