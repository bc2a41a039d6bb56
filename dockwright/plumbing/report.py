"""Drift items: what an operation finds different (concern, key, desired, actual), recorded
while pyinfra plans, in this process.

Each item carries the hash of the operation that found it, so drift.py joins items to
pyinfra's plan by operation, never by the operation's name. drift.py runs pyinfra in its own
process and reads them with ``collected()``; a deploy run by the CLI records them unread.
"""

_ITEMS: list[dict] = []


def drift(host, concern: str, key: str, desired=None, actual=None) -> None:
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


def dict_diff(want: dict, have: dict | None, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, desired, actual) for every leaf that differs between two JSON documents."""
    have = have or {}
    out = []
    for key in sorted(set(want) | set(have)):
        w, h = want.get(key), have.get(key)
        name = f"{prefix}{key}"
        if isinstance(w, dict) and isinstance(h, dict):
            out += dict_diff(w, h, name + ".")
        elif w != h:
            out.append((name, w, h))
    return out
