"""The concerns a deploy applies, each one object, registered once, in deploy order.

A concern (``Concern``) answers, for one host's desired state (``View``: computed once per host
and run, with daemon.json rendered once and the host-derived sizes resolved once):

- ``wanted(view)``: whether it has anything to do on this host (by default, its switch in
  ``concerns``);
- ``reads(view)``: the facts it needs. Preflight reads every concern's in one round trip
  (``dockwright.factcache.prefetch``), and the operations take them from that read;
- ``problems(host, view)``: what only the host can reveal, from the same plan the operation
  will make, as ``(data key, value, why)``. Preflight collects them from every host before any
  change;
- ``refusal(host, view)``: ``(drift key, plan)`` when that plan refuses this host now although
  its data is valid (a later sysctl file, a candidate rolled back before, a network that differs
  under attached containers, a standalone host in a swarm). Preflight asks it of every host once
  the data is valid: a refused host fails alone, before any change on it;
- ``apply(view)``: its pyinfra operations, called from the deploy;
- ``drift_keys``: the names its operations record drift items under (the drift report, the
  metrics and the fleet page list them);
- ``check(target)``: for a concern added beyond the builtin ones, what the verification suite
  finds wrong on a host (the builtin concerns' checks are the suite's own modules).

Preflight's reads and checks and the deploy's converge are each one loop over ``REGISTRY``. A
new concern is one object given to ``register`` (with its data section's schema and defaults
when it has data of its own), its template and its check, in a module that a package names in
the ``dockwright.concerns`` entry-point group, so that every process of a run loads it:
docs/adding-a-concern.md. The builtin concerns are in this package's modules, one per side of
the host.
"""

import weakref
from functools import cached_property

from .. import facts, model, run, schema
from ..operations import refused
from ..plans import docker as docker_plans


class View:
    """One host's desired state for one run, and what derives from it, each computed once."""

    def __init__(self, host, desired: dict):
        self._host, self.desired = weakref.ref(host), desired  # weakly: the run keys views by host
        self._once: dict = {}
        # The switches, judged once by the data's own rule; a name the data lacks is off.
        self._on = frozenset(name for name in desired.get("concerns", {}) if model.enabled(desired, name))

    @property
    def host(self):
        return self._host()

    def on(self, switch: str) -> bool:
        return switch in self._on

    @property
    def role(self) -> str | None:
        """The host's swarm role when the swarm concern is on, else None."""
        return self.desired["swarm"]["role"] if self.on("swarm") else None

    @cached_property
    def daemon_json(self) -> str:
        """daemon.json as rendered from the data (rendered here only): the port policy reads
        which families dockerd filters from it even when docker's concern is off."""
        return docker_plans.render(self.desired)

    def once(self, key: str, compute):
        """compute() the first time key is asked for on this view (a rendered file, say), then
        the same value; an exception is raised each time and not kept."""
        if key not in self._once:
            self._once[key] = compute()
        return self._once[key]

    @cached_property
    def resolved(self) -> "model.Resolved":
        """conntrack's sizing and the owned sysctl file's keys, from this host's facts."""
        read = facts.conntrack().get(self.host) if self.on("conntrack") else None
        return model.resolve(self.desired, read)


def view(host) -> View:
    """host's view in its run (one per host and run)."""
    from ..pyinfra_context import unwrap
    host = unwrap(host)
    views = run.of(host).views
    if host not in views:
        views[host] = View(host, model.desired(host))
    return views[host]


class Concern:
    """One concern of the deploy. Subclasses set ``name`` and override what they need."""

    name = ""
    switch = ""  # the data's switch in `concerns` (the name when empty)
    drift_keys: tuple[str, ...] = ()

    def wanted(self, view: View) -> bool:
        return view.on(self.switch or self.name)

    def reads(self, view: View) -> list:
        return []

    def problems(self, host, view: View) -> list[tuple[str, object, str]]:
        return []

    def refusal(self, host, view: View) -> "tuple[str, object] | None":
        return None

    def apply(self, view: View) -> None:
        raise NotImplementedError(f"concern {self.name} applies nothing")

    def check(self, target) -> list[str] | None:
        """What the verification finds wrong with this concern on ``target`` (a host of the
        suite, dockwright.verify.fleet.Target), judged with its own reads and the data alone;
        [] when nothing is. None: its checks are the suite's own modules (the builtin ones)."""
        return None


REGISTRY: list[Concern] = []


def register(concern: Concern, before: str | None = None, section=None, defaults: dict | None = None) -> Concern:
    """Adds concern to the deploy, at the end or before the concern named ``before``.

    ``section`` is the schema of its data section (``dockwright.schema``'s checkers), and
    ``defaults`` that section's default values; both are given when the concern has data of its
    own, and its switch is then a data switch like the builtin ones (off unless the data says
    so)."""
    if any(c.name == concern.name for c in REGISTRY):
        raise ValueError(f"a concern named {concern.name!r} is registered already")
    if section is not None:
        schema.add_concern(concern.switch or concern.name, section, defaults or {})
    at = next((i for i, c in enumerate(REGISTRY) if c.name == before), len(REGISTRY)) if before else len(REGISTRY)
    REGISTRY.insert(at, concern)
    return concern


def unregister(name: str) -> None:
    """Removes a concern added by ``register`` (and its data section, if it brought one)."""
    concern = next(c for c in REGISTRY if c.name == name)
    REGISTRY.remove(concern)
    schema.remove_concern(concern.switch or concern.name)


def drift_keys() -> tuple[str, ...]:
    """Every name a concern records drift items under, in deploy order."""
    return tuple(dict.fromkeys(k for c in REGISTRY for k in c.drift_keys))


def reads(v: View) -> list:
    """Every read the wanted concerns need on this host, each once, in the facts' own order."""
    return facts.in_order([r for c in REGISTRY if c.wanted(v) for r in c.reads(v)])


def problems(host, v: View) -> list[tuple[str, object, str]]:
    """(data key, value, why) from every wanted concern's plan on this host."""
    return [p for c in REGISTRY if c.wanted(v) for p in c.problems(host, v)]


def refusals(host, v: View) -> "list[tuple[str, object]]":
    """(drift key, plan) of every wanted concern that refuses this host: all are named at once,
    so that a host set up by hand shows each thing to settle in one read."""
    return [found for c in REGISTRY if c.wanted(v) and (found := c.refusal(host, v))]


def stop() -> None:
    """The deploy of a host preflight found refused: no concern's operation, only the one that
    records the refusing plan's items and fails the host alone (dockwright.refusal)."""
    refused(name="refused before any change")


def apply(v: View) -> None:
    """Every wanted concern's operations, in registry order."""
    for c in REGISTRY:
        if c.wanted(v):
            c.apply(v)


def added() -> list[Concern]:
    """The concerns that bring their own verification check (registered beyond the builtin ones)."""
    return [c for c in REGISTRY if type(c).check is not Concern.check]


ENTRY_POINTS = "dockwright.concerns"  # the group a package names its concern modules in


def _load_plugins() -> None:
    """Imports each module a package names in the ``dockwright.concerns`` entry-point group (it
    registers its concerns), in name order: every process of a run (the deploy, drift.py, the
    verification) then has the same concerns."""
    from importlib.metadata import entry_points
    for ep in sorted(entry_points(group=ENTRY_POINTS), key=lambda e: e.name):
        ep.load()


from . import kernel, docker, profiles, networks, swarm, verification  # noqa: E402,F401 (they register)

_load_plugins()
