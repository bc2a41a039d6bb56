"""The fleet check runs once per run, and every host's deploy waits for its outcome."""

import gevent
from pyinfra.api import Config, Inventory, State
from pyinfra.context import ctx_state

from dockwright import preflight, schema


def _run_hosts(n, check):
    order = []

    def host(i):
        with ctx_state.use(state):
            try:
                preflight.check_fleet()
                order.append(f"past-{i}")
            except schema.InvalidDesiredState:
                order.append(f"refused-{i}")

    state = State(Inventory.empty(), Config())
    jobs = [gevent.spawn(host, i) for i in range(n)]
    gevent.joinall(jobs)
    return order


def test_other_hosts_wait_for_the_check_and_share_its_success(monkeypatch):
    calls = []

    def slow_check():
        calls.append(1)
        gevent.sleep(0.05)  # facts being read: other greenlets run meanwhile

    monkeypatch.setattr(preflight, "_check_fleet", slow_check)
    assert sorted(_run_hosts(3, slow_check)) == ["past-0", "past-1", "past-2"] and len(calls) == 1


def test_other_hosts_wait_for_the_check_and_share_its_failure(monkeypatch):
    def bad_check():
        gevent.sleep(0.05)
        raise schema.InvalidDesiredState([schema.Problem("h1", "k", 1, "why")])

    monkeypatch.setattr(preflight, "_check_fleet", bad_check)
    assert sorted(_run_hosts(3, bad_check)) == ["refused-0", "refused-1", "refused-2"]
