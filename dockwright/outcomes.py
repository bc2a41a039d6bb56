"""What a run found, per host, for drift.py: the items of each operation's plan
(dockwright.plans), and the hosts that failed alone with the reason (a refusal, a failed read).

Each item carries the hash of the operation that found it, so drift.py joins items to
pyinfra's plan by operation, never by the operation's name. Everything is kept in the host's
run (dockwright.run): drift.py runs pyinfra in its own process and reads them from that run's
State with ``collected(state)`` and ``failures(state)``; a deploy run by the CLI records them
unread.
"""

from . import run


def record(host, concern: str, plan) -> None:
    """Every item of the plan the current operation of host made; while pyinfra plans (not
    when it executes, which runs the operation again), each is also shown on the host's line."""
    planning = not getattr(host.state, "is_executing", False)
    this = run.of(host)
    for key, desired, actual in plan.items:
        item = {"host": host.name, "op": getattr(host, "current_op_hash", None), "concern": concern,
                "key": key, "desired": _plain(desired), "actual": _plain(actual)}
        fresh = this.items.setdefault((item["host"], item["op"], concern, key, repr(item["desired"]),
                                       repr(item["actual"])), item) is item
        # Shown as pyinfra plans (--dry, or a run without -y); a scheduled run lists them itself.
        if planning and fresh and not this.scheduled:
            host.log(f"would change {line(item)}")


def line(item: dict) -> str:
    """An item as drift.py and --dry show it: [concern] key: desired X, actual Y (values as the
    plan recorded them, secrets already masked)."""
    detail = "" if item["desired"] is None and item["actual"] is None else \
        f": desired {item['desired']!r}, actual {item['actual']!r}"
    return f"[{item['concern']}] {item['key']}{detail}"


def fail(host, why: str) -> None:
    """host failed alone in this run (the first reason is kept)."""
    run.of(host).failed.setdefault(host.name, why)


def reading(host, value, received: float) -> None:
    """diagnose.py's reading of host, with the controller's clock when it came."""
    run.of(host).readings[host.name] = (value, received)


def collected(state) -> list[dict]:
    return list(run.of_state(state).items.values())


def failures(state) -> dict[str, str]:
    return dict(run.of_state(state).failed)


def readings(state) -> dict[str, tuple]:
    return dict(run.of_state(state).readings)


def _plain(value):
    return value if value is None or isinstance(value, (str, int, float, bool, list, dict)) else str(value)
