"""Records each drifted item an operation finds (concern, key, desired, actual) while pyinfra
plans, so drift.py can list them. Active only when DOCKWRIGHT_DRIFT_FILE names a file."""

import json
import os


def drift(host, concern: str, key: str, desired=None, actual=None) -> None:
    path = os.environ.get("DOCKWRIGHT_DRIFT_FILE")
    if not path:
        return
    item = {"host": host.name, "concern": concern, "key": key,
            "desired": _plain(desired), "actual": _plain(actual)}
    with open(path, "a", encoding="utf-8") as f:  # one line per item; greenlets write whole lines
        f.write(json.dumps(item, sort_keys=True) + "\n")


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
