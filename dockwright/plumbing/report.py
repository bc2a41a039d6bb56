"""Drift items: the items of each operation's plan (dockwright.plans), recorded with their host,
concern and operation while pyinfra plans, in this process.

Each item carries the hash of the operation that found it, so drift.py joins items to
pyinfra's plan by operation, never by the operation's name. drift.py runs pyinfra in its own
process and reads them with ``collected()``; a deploy run by the CLI records them unread.
"""

_ITEMS: list[dict] = []


def record(host, concern: str, plan) -> None:
    """Every item of the plan the current operation of host made."""
    for key, desired, actual in plan.items:
        item = {"host": host.name, "op": getattr(host, "current_op_hash", None), "concern": concern,
                "key": key, "desired": _plain(desired), "actual": _plain(actual)}
        if item not in _ITEMS:  # pyinfra plans an operation again when it executes it
            _ITEMS.append(item)


def collected() -> list[dict]:
    return list(_ITEMS)


def reset() -> None:
    _ITEMS.clear()


def _plain(value):
    return value if value is None or isinstance(value, (str, int, float, bool, list, dict)) else str(value)
