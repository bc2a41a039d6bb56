"""What an unattended ``drift.py --fix`` may change, and when (the data's ``drift`` section).

Drift items are split by concern. A concern not in ``drift.unattended`` is never fixed by an
unattended run; a disruptive one (a dockerd restart, a network recreate, a swarm role change)
only inside ``drift.window``: days, hours and a time zone. What is left is reported as deferred,
with why, and the run exits 2 ("drift found"), so the team sees it and the next run in the
window fixes it. A person running ``drift.py --fix`` at a terminal fixes everything.
"""

from dataclasses import dataclass, field
from datetime import datetime, timezone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Item concerns (operations' outcomes.record) -> the data concern switch that turns them off, and
# whether fixing them interrupts containers.
CONCERN_SWITCH = {"sysctl": "sysctl", "conntrack": "conntrack", "seccomp": "seccomp", "apparmor": "apparmor",
                  "docker": "docker", "networks": "networks", "firewall": "networks", "overlays": "networks",
                  "swarm": "swarm"}
DISRUPTIVE = frozenset({"docker", "networks", "swarm"})  # switches: dockerd restarts, recreates, role changes
OUTSIDE = "deferred: outside the fix window"
NOT_UNATTENDED = "deferred: not in drift.unattended"


@dataclass
class FixPlan:
    fix: list = field(default_factory=list)  # items to fix now
    deferred: list = field(default_factory=list)  # (item, why)
    off: tuple = ()  # concern switches this host's fix must leave alone


def in_window(window: dict | None, now: datetime | None = None) -> bool:
    """Whether now falls inside the window ({"days", "hours": "HH:MM-HH:MM", "timezone"}); no
    window at all means any time."""
    if not window:
        return True
    from zoneinfo import ZoneInfo
    now = (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(window.get("timezone", "UTC")))
    if window.get("days") and DAYS[now.weekday()] not in window["days"]:
        return False
    if window.get("hours"):
        start, end = (int(a) * 60 + int(b) for a, b in (t.split(":") for t in window["hours"].split("-")))
        minute = now.hour * 60 + now.minute
        return start <= minute < end if start <= end else minute >= start or minute < end
    return True


def plan(items: list[dict], policy: dict | None, now: datetime | None = None) -> FixPlan:
    """The items of one host split into those fixed now and those deferred, with why."""
    policy = policy or {}
    allowed = set(policy.get("unattended", CONCERN_SWITCH.values()))
    open_window = in_window(policy.get("window"), now)
    p = FixPlan()
    off = set()
    # Whether an item waits depends on its concern's switch alone: a switch is off for the whole
    # concern, so every item of a concern with one deferred waits with it.
    for item in items:
        switch = CONCERN_SWITCH.get(item.get("concern"), item.get("concern"))
        why = NOT_UNATTENDED if switch not in allowed else OUTSIDE if switch in DISRUPTIVE and not open_window else None
        if why:
            p.deferred.append((item, why))
            off.add(switch)
        else:
            p.fix.append(item)
    p.off = tuple(sorted(off))
    return p
