"""The swarm-wide lease that serialises manager restarts across controllers.

One controller restarts managers one at a time (a semaphore in the run). Two controllers (a
deploy and a scheduled ``drift.py --fix``, or two people) could still restart two managers at
once and cost the swarm its quorum. So before it restarts a manager, a rollout takes a lease held
on the swarm's side: a swarm config object, ``dockwright-manager-restart``, created on that
manager. The swarm's store creates a name once, so exactly one creator wins; the config's labels
name the holder and how long the lease lasts, so a lease whose holder died lapses. A lapsed lease
is removed by its ID (never a newer one of the same name) and taken.

When a lease ends is judged on one clock: its start is the swarm's own record of the config's
creation (``CreatedAt``, stamped by the swarm), never the clock of the manager that wrote the
labels, and it lapses only MARGIN seconds after its end, for the skew between the managers'
clocks (diagnose.py flags a skew beyond ``diagnose.clock_skew_seconds``). The holder keeps it
across the outcome of its restart and releases it only on a known outcome (operations/docker.py).
"""

import shlex

NAME = "dockwright-manager-restart"
HOLDER, SECONDS = "dockwright.holder", "dockwright.seconds"
MARGIN = 120  # seconds a lapsed lease is still honoured: the managers' clocks may differ


DEFAULT_SECONDS = 7200  # a lease without a duration (written by hand, or by an older dockwright)


def acquire_command(holder: str, seconds: int) -> str:
    """Prints ``acquired``, ``held HOLDER UNTIL`` (another holder's lease has not lapsed) or
    ``failed WHY`` (the swarm could not be asked)."""
    q = shlex.quote(holder)
    # Every field non-empty (a missing label prints nothing): the holder and duration prefixed.
    fmt = (f"{{{{.ID}}}} {{{{.CreatedAt.Unix}}}} h{{{{index .Spec.Labels \"{HOLDER}\"}}}} "
           f"s{{{{index .Spec.Labels \"{SECONDS}\"}}}}")
    parse = ("set -- $cur; holder=${3#h}; secs=${4#s}; "
             f"case \"$secs\" in ''|*[!0-9-]*) secs={DEFAULT_SECONDS};; esac; "
             "case \"$2\" in ''|*[!0-9]*) until=unknown;; *) until=$(( $2 + secs ));; esac; ")
    return (
        f"now=$(date +%s); cur=$(timeout 30 docker config inspect --format '{fmt}' {NAME} 2>/dev/null); "
        f"if [ -n \"$cur\" ]; then {parse}"
        f"if [ \"$holder\" = {q} ]; then echo acquired; exit 0; fi; "
        # Its end on the swarm's clock, honoured MARGIN seconds longer for the managers' skew.
        f"[ \"$until\" != unknown ] && [ $(( until + {MARGIN} )) -le \"$now\" ] || "
        "{ echo \"held $holder $until\"; exit 0; }; "
        "timeout 30 docker config rm \"$1\" >/dev/null 2>&1; fi; "
        f"if err=$(echo lease | timeout 30 docker config create --label {HOLDER}={q} "
        f"--label {SECONDS}={int(seconds)} {NAME} - 2>&1 >/dev/null); then echo acquired; "
        f"else cur=$(timeout 30 docker config inspect --format '{fmt}' {NAME} 2>/dev/null) && "
        f"[ -n \"$cur\" ] && {{ {parse}echo \"held $holder $until\"; exit 0; }}; "
        "echo \"failed $(printf '%s' \"$err\" | tr '\\n' ' ')\"; fi"
    )


def release_command(holder: str) -> str:
    """Removes the lease if ``holder`` still holds it (a lapsed and retaken one stays)."""
    fmt = f"{{{{.ID}}}} {{{{index .Spec.Labels \"{HOLDER}\"}}}}"
    return (f"cur=$(timeout 30 docker config inspect --format '{fmt}' {NAME} 2>/dev/null) && set -- $cur && "
            f"[ \"${{2:-}}\" = {shlex.quote(holder)} ] && timeout 30 docker config rm \"$1\" >/dev/null; true")


def problem(lines: list[str]) -> str | None:
    """Why this manager must not restart now, from acquire_command's output; None when acquired."""
    first = lines[0].split() if lines else ["failed", "no", "answer"]
    if first[0] == "acquired":
        return None
    if first[0] == "held" and len(first) >= 3:
        return (f"another controller ({first[1]}) holds the swarm's manager-restart lease until "
                f"{first[2]} (epoch seconds, the manager's clock): not restarting this manager now")
    return "cannot take the swarm's manager-restart lease (" + " ".join(first[1:]) + "): not restarting this manager"
