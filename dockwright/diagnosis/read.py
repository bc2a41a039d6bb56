"""The pyinfra deploy file diagnose.py runs (with --dry): it changes nothing and adds no
operation. Once per run every host's data is validated (the ``diagnose`` thresholds included);
then each host is read once (``fact.NetworkHealth``), and the reading is kept for diagnose.py in
``plumbing.report``. A host whose read fails has failed alone, with its reason."""

import time
import weakref

import gevent.event
from pyinfra import host, logger
from pyinfra.context import inventory, state

from dockwright import factcache, liveness, model, schema
from dockwright.diagnosis.fact import NetworkHealth
from dockwright.plumbing import report

_CHECKED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def check_data() -> None:
    """Every host's merged data, once per run (the first host checks, the others wait for its
    outcome): InvalidDesiredState names each host, key and value, before any host is read."""
    run = factcache.real(state)
    if run not in _CHECKED:
        _CHECKED[run] = result = gevent.event.AsyncResult()
        problems = schema.validate_inventory_data(inventory.get_data())
        for h in sorted(inventory, key=lambda x: x.name):
            problems += schema.validate(h.name, model.desired(h))
        result.set(schema.InvalidDesiredState(problems) if problems else None)
        for h in inventory.get_active_hosts():
            liveness.watch(h)  # a host that goes silent fails alone within a minute
    if error := _CHECKED[run].get():
        raise error


check_data()
if model.enabled(model.desired(host), "diagnose"):
    try:
        value = factcache.get(host, NetworkHealth)
        report.reading(host.name, value, time.time())
    except factcache.ReadFailed as e:
        logger.error(f"{host.print_prefix}not diagnosed: {e.why}")
        report.fail(host.name, f"cannot read {e.fact}: {e.why}")
