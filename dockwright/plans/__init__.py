"""Plans: what each concern would change on a host, decided from the desired values and the
host's facts alone. No remote call and no pyinfra: the deploy's operations, preflight and
drift.py share one decision, and unit tests run it directly.

A plan holds
- ``items``: what differs, as (key, desired, actual). The operation records them for drift.py
  (``dockwright.outcomes``) and turns the plan's decisions into commands;
- ``problems``: (key, value, why) for data this host cannot take (a sysctl key its kernel lacks,
  a dockerd flag set twice). Preflight collects them from every host before any change;
- ``refusal``: why the operation must not act on this host now although the data is valid (the
  host is in another swarm, containers are attached). That host fails; the others go on.
"""

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Plan:
    items: list[tuple[str, Any, Any]] = field(default_factory=list)
    problems: list[tuple[str, Any, str]] = field(default_factory=list)
    refusal: str | None = None

    def differs(self, key: str, desired, actual) -> None:
        self.items.append((key, desired, actual))

    def problem(self, key: str, value, why: str) -> None:
        self.problems.append((key, value, why))

    def error(self) -> str | None:
        """Why the operation stops on this host, or None: every problem, then the refusal."""
        reasons = [f"{key} = {value!r}: {why}" for key, value, why in self.problems]
        if self.refusal:
            reasons.append(self.refusal)
        return "; ".join(reasons) or None


@dataclass
class FilePlan(Plan):
    """A file the operation writes whole (a profile): write it when its sha256 differs."""
    write: bool = False


def sha256(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


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
