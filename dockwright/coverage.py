"""What a verdict covers: the hosts in scope, and for each one whether it was checked, and if
not, why (unreachable, failed, skipped, not checked). Exit 0 is a promise that every host in
scope was checked and nothing was found; a run that checked nothing never reads as clean.

Shared by drift.py, diagnose.py and the verification hand-off. Standard library only at import
time (``drift.py merge`` runs without the venv).
"""

import os
from dataclasses import dataclass, field


@dataclass
class Coverage:
    in_scope: list = field(default_factory=list)  # host names, sorted
    unreachable: dict = field(default_factory=dict)  # host -> why (and in which phase)
    failed: dict = field(default_factory=dict)  # host -> why
    skipped: dict = field(default_factory=dict)  # host -> why (maintenance: planned absence)
    not_checked: dict = field(default_factory=dict)  # host -> why (the run stopped before its verdict)

    @classmethod
    def of(cls, report: dict) -> "Coverage":
        """The coverage a report's host lists state (missing lists: none)."""
        return cls(in_scope=report["hosts"], **{k: dict(report.get(k) or {}) for k in
                                                ("unreachable", "failed", "skipped", "not_checked")})

    @property
    def checked(self) -> list:
        left_out = set(self.unreachable) | set(self.failed) | set(self.skipped) | set(self.not_checked)
        return [h for h in self.in_scope if h not in left_out]

    def as_dict(self) -> dict:
        checked = self.checked
        expected = len(self.in_scope) - len(self.skipped)
        return {"in_scope": len(self.in_scope), "checked": len(checked),
                "unreachable": dict(sorted(self.unreachable.items())), "failed": dict(sorted(self.failed.items())),
                "skipped": dict(sorted(self.skipped.items())), "not_checked": dict(sorted(self.not_checked.items())),
                "ratio": round(len(checked) / expected, 6) if expected > 0 else 0.0}

    def lines(self) -> list[str]:
        d = self.as_dict()
        out = [f"coverage: {d['checked']} of {d['in_scope']} host(s) checked"
               + (f", {len(self.skipped)} skipped" if self.skipped else "")
               + (f", {len(self.unreachable)} unreachable" if self.unreachable else "")
               + (f", {len(self.failed)} failed" if self.failed else "")
               + (f", {len(self.not_checked)} not checked" if self.not_checked else "")]
        for kind in ("unreachable", "failed", "skipped", "not_checked"):
            for host, why in d[kind].items():
                out.append(f"  {host}: {kind.replace('_', ' ')}: {why}")
        return out


NO_HOSTS = "No hosts remaining!"  # pyinfra's error when it has failed every host of a run


def run_error(error: str | None, coverage: "Coverage") -> str | None:
    """The run's error as the verdict counts it: pyinfra stops with "No hosts remaining!" once
    it has failed every host, which is no error of its own when each host is accounted for
    (unreachable, failed or skipped, each with its reason)."""
    if error == NO_HOSTS and coverage.in_scope and not coverage.checked:
        return None
    return error


def within_budget(unreachable: int, in_scope: int, budget: str | None) -> bool:
    """Whether this many unreachable hosts is within --max-unreachable (N or P%; default 0)."""
    if not budget:
        return unreachable == 0
    if budget.endswith("%"):
        return unreachable <= in_scope * float(budget[:-1]) / 100
    return unreachable <= int(budget)


def parse_budget(text: str) -> str:
    """--max-unreachable's value, checked: a count or a percentage."""
    import argparse
    body = text[:-1] if text.endswith("%") else text
    try:
        ok = float(body) >= 0 if text.endswith("%") else int(body) >= 0
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"--max-unreachable {text}: expected a count (3) or a percentage (5%)")
    return text


def inventory_problem(inventory: str) -> str | None:
    """Why the inventory argument cannot be an inventory: pyinfra only warns about a path that
    does not exist and goes on with no hosts. A comma-separated host list (pyinfra's inline
    inventory) or a connector (@local) has no file."""
    looks_like_file = inventory.endswith(".py") or os.sep in inventory
    if looks_like_file and not os.path.isfile(inventory):
        return f"inventory {inventory}: no such file"
    return None


def scope_problems(inventory_name: str, all_hosts: list[str], in_scope: list[str], limit: str | None,
                   matches) -> list[str]:
    """Why this scope cannot give a verdict: an inventory with no host, a --limit pattern that
    matches none (``matches(pattern)`` says which hosts a pattern selects, as pyinfra reads it)."""
    problems = []
    if not all_hosts:
        problems.append(f"inventory {inventory_name} yields no host")
    for pattern in [p for p in (limit or "").split(",") if p]:
        if all_hosts and not matches(pattern):
            problems.append(f"--limit {pattern}: matches no host of {inventory_name}")
    if all_hosts and not in_scope and not problems:
        problems.append(f"no host of {inventory_name} is in scope")
    return problems


def maintenance(data) -> str | None:
    """Why a host is in planned absence (host data ``maintenance``), or None."""
    value = data.get("maintenance") if data is not None else None
    if not value:
        return None
    if isinstance(value, dict):
        why = str(value.get("reason") or "in maintenance")
        return why + (f" (until {value['until']})" if value.get("until") else "")
    return str(value) if value is not True else "in maintenance"
