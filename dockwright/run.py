"""One run's shared state, in one object.

pyinfra operations are stateless generators, and pyinfra executes deploy.py once per host. What
the hosts of one run must share lives in that run's ``Run``, and nowhere else:

- ``reads``: the answers of each host's facts, read once per run (dockwright.factcache);
- ``desired``: each host's merged desired state (dockwright.model);
- ``views``: each host's view of it, with what derives from it computed once (dockwright.concerns);
- ``checks``: the outcome of the fleet checks, run by the first host, awaited by the others
  (dockwright.preflight);
- ``leader``: the manager that leads or founds the swarm, chosen once (dockwright.preflight);
- ``halted`` and ``slots``: the rolling restart's stop and its batches (operations/docker.py);
- ``warnings``: what the run tells its user without failing (an unused group_data file);
- ``unreachable``: why each host that could not be connected to could not (pyinfra_internals);
- ``declared``: the hosts that went silent during the run, with why (dockwright.liveness);
- ``skipped``: the hosts a scheduled run left out on purpose, with why (maintenance);
- ``refused``: the hosts preflight found refused, each with every (drift key, plan) that refuses it;
- ``scheduled``: the run is drift.py's or diagnose.py's, which list what they find themselves;
- ``active_probes``: diagnose.py --active: each host's read adds the probe containers;
- ``items``, ``failed``, ``readings``: what the run found, for drift.py and diagnose.py: the
  plans' drift items, the hosts that failed alone with why, diagnose's readings
  (dockwright.outcomes).

A Run belongs to one pyinfra State (a ``pyinfra`` command, or a drift.py/diagnose.py plan in
this process) and goes with it. It is reached one way: ``run.of(host)`` for a host's run,
``run.current()`` for the run whose deploy file pyinfra is executing. Hosts outside any run
(an inventory loaded to export its data, unit tests) share one Run of their own.
"""

import weakref

DEPLOY = "dockwright"  # the packaged deploy's name: a run shows its operations as "dockwright | NAME"


class Run:
    def __init__(self):
        # Per host object, weakly: a value that held its host would keep the run alive.
        self.reads: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self.desired: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self.views: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self.checks: dict = {}  # check name -> gevent AsyncResult of its outcome
        self.leader = None
        self.halted: str | None = None  # why the rollout stopped starting restarts
        self.slots: dict = {}  # restart batch key -> semaphore
        self.warnings: list[str] = []
        self.unreachable: dict[str, str] = {}  # host name -> why
        self.declared: dict[str, str] = {}  # host name -> why
        self.skipped: dict[str, str] = {}  # host name -> why
        self.refused: dict[str, list] = {}  # host name -> [(drift key, plan)], each refusing
        self.scheduled = False
        self.active_probes = False
        # Keyed, in the order found: pyinfra plans an operation again when it executes it, and
        # the same item must count once (a dict keeps that O(1) per item on a large fleet).
        self.items: dict[tuple, dict] = {}
        self.failed: dict[str, str] = {}  # host name -> why (the first reason)
        self.readings: dict[str, tuple] = {}  # host name -> (reading, the controller's clock then)


_BY_STATE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_OUTSIDE = Run()


def of_state(state) -> Run:
    if state is None:
        return _OUTSIDE
    if state not in _BY_STATE:
        _BY_STATE[state] = Run()
    return _BY_STATE[state]


def of(host) -> Run:
    """The run host belongs to."""
    from .pyinfra_context import unwrap

    return of_state(getattr(unwrap(host), "state", None))


def current() -> Run:
    """The run whose deploy file pyinfra is executing now."""
    from .pyinfra_context import current_state

    return of_state(current_state())
