"""A restart of dockerd in its turn, whatever restarts it (daemon.json's rollout, the engine
package's version): a few hosts at a time, managers one at a time while the others hold quorum
and under the swarm's manager-restart lease, and none after the first host that ended unhealthy."""

import gevent.lock

from . import remote, restart_lease, run
from .plans.docker import quorum_problem


def _slot(state, key: str, size: int):
    """A semaphore shared by every host of this run that restarts under the same key."""
    slots = run.of_state(state).slots
    if key not in slots:
        slots[key] = gevent.lock.BoundedSemaphore(size)
    return slots[key]


# Outcomes of a step that did not restart dockerd (nothing changed, or refused before): the
# hosts after it go on. Any other outcome that is not applied halts the rollout.
NOT_RESTARTED = ("rejected", "refused", "failed", "busy", "not-started")


def detached(unit: str, bound: int, script: str, *args: str) -> str:
    """Shell that starts ``/bin/sh script args`` detached from this SSH session: a transient
    unit (bounded to ``bound`` seconds) where systemd-run reaches systemd, else its own session.
    If the session drops, the script runs on to its end."""
    argv = " ".join((script, *args))
    return (f"{{ systemd-run --unit={unit} --collect --quiet -p RuntimeMaxSec={bound} /bin/sh {argv} 2>/dev/null || "
            f"setsid -f /bin/sh {argv} >/dev/null 2>&1 </dev/null; }}")


# Asked on a manager before its restart: its swarm state, then (an active manager) every manager's
# status. Each step says when it failed: a question that cannot be answered stops the restart.
QUORUM_QUERY = (
    "s=$(timeout 30 docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}') "
    "|| { echo \"info-failed $?\"; exit 0; }; echo \"state $s\"; "
    "[ \"$s\" = 'active true' ] || exit 0; "
    "n=$(timeout 30 docker node ls --format '{{.Self}} {{.ManagerStatus}}') || { echo \"nodes-failed $?\"; exit 0; }; "
    "printf '%s\\n' \"$n\" | sed 's/^/node /'"
)


def turn(state, host, script: str, content: str, run_id: str, slot: tuple, manager: bool,
         timeout: int, conn: dict, mode: str, roll, what: str):
    """Hands the rollout to the host (a detached systemd unit), waits for it and reports.

    At most ``slot[1]`` hosts sharing ``slot[0]`` restart at once; managers one at a time, only
    while the other managers hold quorum, and only under the swarm's manager-restart lease (one
    manager at a time across controllers too: dockwright.restart_lease). After the first host that ends unhealthy or
    rolled back, no further host is restarted. ``mode="recover"`` finishes a rollout that ended
    without an outcome, from its journal (no quorum check: it only ever brings dockerd back).
    ``roll`` is the host-side step (daemon.json's, or the engine package's version), called as
    ``roll(state, host, script, content, run_id, timeout, conn, mode)`` -> (applied, outcome);
    ``what`` names it in the messages."""
    this_run = run.of_state(state)
    with _slot(state, *slot):
        if this_run.halted and mode == "apply":
            host.log_styled(f"{what} not applied: the rollout stopped after {this_run.halted} failed",
                            fg="red")
            return False
        leased = False
        if manager and mode == "apply":
            # Only a manager of an active swarm has a quorum to keep (a new node joins later).
            ok, out = remote.run(host, QUORUM_QUERY, conn)
            problem = quorum_problem(out.stdout_lines if ok else [])
            if not problem and ok and "state active true" in out.stdout_lines:
                # ... and other controllers may be restarting its peers: one lease for the swarm,
                # taken first; the quorum is then judged again under it (a peer another
                # controller restarted a moment ago counts).
                ok, out = remote.run(host, restart_lease.acquire_command(run_id, 2 * timeout + 600), conn)
                problem = restart_lease.problem(out.stdout_lines if ok else [])
                leased = problem is None
                if leased:
                    ok, out = remote.run(host, QUORUM_QUERY, conn)
                    problem = quorum_problem(out.stdout_lines if ok else [])
            if problem:
                if leased:
                    remote.run(host, restart_lease.release_command(run_id), conn)
                host.log_styled(f"{what} not applied: {problem}", fg="red")
                return False
        outcome = "unknown"
        try:
            applied, outcome = roll(state, host, script, content, run_id, timeout, conn, mode)
            if not applied and outcome not in NOT_RESTARTED:
                # Unhealthy after its restart (rolled back or not), or no outcome: no further host.
                this_run.halted = host.name
            return applied
        finally:
            # Released on a known outcome only: with none, the rollout (or the recovery it
            # started) may still restart this manager, so the lease stays and lapses instead.
            if leased and outcome != "unknown":
                remote.run(host, restart_lease.release_command(run_id), conn)
            elif leased:
                host.log_styled(f"{what}: the swarm's manager-restart lease is kept until it lapses "
                                "(the rollout's outcome is unknown)", fg="red")


