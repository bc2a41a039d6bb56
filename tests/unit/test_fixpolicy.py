"""drift.py --fix --unattended: the data's policy decides what is fixed now and what waits for
the fix window, per concern."""

from datetime import datetime, timezone

import pytest

from dockwright import schema
from dockwright.model import deep_merge
from dockwright.plans import fixpolicy

from .helpers import group_data

WINDOW = {"days": ["mon", "tue", "wed", "thu"], "hours": "09:00-16:00", "timezone": "Europe/Berlin"}
POLICY = {"unattended": ["sysctl", "conntrack", "docker", "seccomp", "apparmor", "networks", "swarm"], "window": WINDOW}
# Tuesday 2026-12-08 at 10:00 in Berlin is 09:00 UTC; Saturday is outside.
INSIDE = datetime(2026, 12, 8, 9, 0, tzinfo=timezone.utc)
EVENING = datetime(2026, 12, 8, 15, 30, tzinfo=timezone.utc)  # 16:30 in Berlin
SATURDAY = datetime(2026, 12, 12, 9, 0, tzinfo=timezone.utc)
ITEMS = [{"concern": "sysctl", "key": "live: net.core.somaxconn"}, {"concern": "docker", "key": "daemon.json: debug"},
         {"concern": "firewall", "key": "DOCKER-USER"}]


def test_inside_the_window_everything_is_fixed():
    p = fixpolicy.plan(ITEMS, POLICY, INSIDE)
    assert p.fix == ITEMS and p.deferred == [] and p.off == ()


@pytest.mark.parametrize("now", [EVENING, SATURDAY])
def test_outside_the_window_disruptive_concerns_wait_and_the_rest_is_fixed(now):
    p = fixpolicy.plan(ITEMS, POLICY, now)
    assert p.fix == [ITEMS[0]]
    assert [(i["concern"], why) for i, why in p.deferred] == [("docker", fixpolicy.OUTSIDE),
                                                              ("firewall", fixpolicy.OUTSIDE)]
    assert p.off == ("docker", "networks")


def test_a_concern_not_allowed_unattended_is_never_fixed_by_the_timer():
    p = fixpolicy.plan(ITEMS, dict(POLICY, unattended=["docker", "networks"]), INSIDE)
    assert [(i["concern"], why) for i, why in p.deferred] == [("sysctl", fixpolicy.NOT_UNATTENDED)]
    assert p.off == ("sysctl",)


def test_a_window_may_cross_midnight():
    night = {"hours": "22:00-04:00", "timezone": "UTC"}
    assert fixpolicy.in_window(night, datetime(2026, 12, 8, 23, 0, tzinfo=timezone.utc))
    assert fixpolicy.in_window(night, datetime(2026, 12, 8, 3, 59, tzinfo=timezone.utc))
    assert not fixpolicy.in_window(night, datetime(2026, 12, 8, 12, 0, tzinfo=timezone.utc))
    assert fixpolicy.in_window(None, SATURDAY)  # no window: any time


@pytest.mark.parametrize("key,value", [("hours", "9-16"), ("hours", "25:00-26:00"), ("hours", "09:00-09:00"),
                                       ("timezone", "Mars/Olympus"), ("days", ["monday"])])
def test_a_bad_window_is_refused_naming_the_key(key, value):
    state = deep_merge(group_data("all"), {"drift": {"window": {key: value}}})
    found = schema.validate("h1", {k: v for k, v in state.items() if k != "environment_groups"})
    assert [p.key for p in found] == [f"drift.window.{key}" if key != "days" else "drift.window.days[0]"]


def test_the_shipped_default_is_valid_and_names_every_fixable_concern():
    drift = group_data("all")["drift"]
    assert set(drift["unattended"]) == set(schema.FIXABLE) and drift["window"]["timezone"] == "UTC"
