"""What a run found, per host, for drift.py: the items of each operation's plan
(dockwright.plans), and the hosts that failed alone with the reason (a refusal, a failed read).

Each item carries the hash of the operation that found it, so drift.py joins items to
pyinfra's plan by operation, never by the operation's name. drift.py runs pyinfra in its own
process and reads them with ``collected()`` and ``failures()``; a deploy run by the CLI records
them unread.
"""

# Keyed, in the order found: pyinfra plans an operation again when it executes it, and the
# same item must count once (a dict keeps that O(1) per item on a large fleet).
_ITEMS: dict[tuple, dict] = {}
_FAILED: dict[str, str] = {}
# diagnose.py's readings: {host: (the NetworkHealth reading, the controller's clock when it came)}
_READINGS: dict[str, tuple] = {}


# Whether the keys a plan would change are shown as pyinfra plans (--dry, or a run without -y):
# drift.py lists them itself, so it turns this off for its own runs.
SHOW_PLANNED = True


def record(host, concern: str, plan) -> None:
    """Every item of the plan the current operation of host made; while pyinfra plans (not
    when it executes, which runs the operation again), each is also shown on the host's line."""
    planning = not getattr(host.state, "is_executing", False)
    for key, desired, actual in plan.items:
        item = {"host": host.name, "op": getattr(host, "current_op_hash", None), "concern": concern,
                "key": key, "desired": _plain(desired), "actual": _plain(actual)}
        fresh = _ITEMS.setdefault((item["host"], item["op"], concern, key, repr(item["desired"]),
                                   repr(item["actual"])), item) is item
        if SHOW_PLANNED and planning and fresh:
            host.log(f"would change {line(item)}")


def line(item: dict) -> str:
    """An item as drift.py and --dry show it: [concern] key: desired X, actual Y (values as the
    plan recorded them, secrets already masked)."""
    detail = "" if item["desired"] is None and item["actual"] is None else \
        f": desired {item['desired']!r}, actual {item['actual']!r}"
    return f"[{item['concern']}] {item['key']}{detail}"


def fail(host_name: str, why: str) -> None:
    """host failed alone in this run (the first reason is kept)."""
    _FAILED.setdefault(host_name, why)


def collected() -> list[dict]:
    return list(_ITEMS.values())


def failures() -> dict[str, str]:
    return dict(_FAILED)


def reading(host_name: str, value, received: float) -> None:
    _READINGS[host_name] = (value, received)


def readings() -> dict[str, tuple]:
    return dict(_READINGS)


def reset() -> None:
    _ITEMS.clear()
    _FAILED.clear()
    _READINGS.clear()


def _plain(value):
    return value if value is None or isinstance(value, (str, int, float, bool, list, dict)) else str(value)
