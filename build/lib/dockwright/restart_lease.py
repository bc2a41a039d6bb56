"""The swarm-wide lease that serialises manager restarts across controllers.

One controller restarts managers one at a time (a semaphore in the run). Two controllers (a
deploy and a scheduled ``drift.py --fix``, or two people) could still restart two managers at
once and cost the swarm its quorum. So before it restarts a manager, a rollout takes a lease held
on the swarm's side: a swarm config object, ``dockwright-manager-restart``, created on that
manager. The swarm's store creates a name once, so exactly one creator wins; the config's labels
name the holder and when the lease ends (the manager's clock), so a lease whose holder died
lapses. A lapsed lease is removed by its ID (never a newer one of the same name) and taken.
"""

import shlex

NAME = "dockwright-manager-restart"
HOLDER, EXPIRES = "dockwright.holder", "dockwright.expires"


def acquire_command(holder: str, seconds: int) -> str:
    """Prints ``acquired``, ``held HOLDER UNTIL`` (another holder's lease has not lapsed) or
    ``failed WHY`` (the swarm could not be asked)."""
    q = shlex.quote(holder)
    fmt = f"{{{{.ID}}}} {{{{index .Spec.Labels \"{HOLDER}\"}}}} {{{{index .Spec.Labels \"{EXPIRES}\"}}}}"
    return (
        f"now=$(date +%s); cur=$(timeout 30 docker config inspect --format '{fmt}' {NAME} 2>/dev/null); "
        "if [ -n \"$cur\" ]; then set -- $cur; "
        f"if [ \"$2\" = {q} ]; then echo acquired; exit 0; fi; "
        "case \"$3\" in ''|*[!0-9]*) ;; *) [ \"$3\" -le \"$now\" ] || { echo \"held $2 $3\"; exit 0; } ;; esac; "
        "timeout 30 docker config rm \"$1\" >/dev/null 2>&1; fi; "
        f"if err=$(echo lease | timeout 30 docker config create --label {HOLDER}={q} "
        f"--label {EXPIRES}=$((now + {int(seconds)})) {NAME} - 2>&1 >/dev/null); then echo acquired; "
        f"else c=$(timeout 30 docker config inspect --format '{fmt}' {NAME} 2>/dev/null) && "
        "[ -n \"$c\" ] && { set -- $c; echo \"held $2 $3\"; exit 0; }; "
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
