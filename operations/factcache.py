"""One read of each fact per host and run.

pyinfra 3 does not cache facts, and dockwright reads the same state twice: in preflight (before
any change, to validate) and in the operations. The state a fact describes is only changed by
the operation that reads it, after it has read it, so the first read serves both.
"""


import weakref

import gevent.event

# Per host object, weakly: nothing is hung on pyinfra's objects.
_FACTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def real(obj):
    """The object behind pyinfra's context proxies (``pyinfra.host`` is one proxy for all)."""
    unwrap = getattr(type(obj), "_get_module", None)
    return unwrap(obj) if unwrap else obj


def get(host, fact_cls, **kwargs):
    """The fact, read once per host and run. A read already in flight (another host's
    greenlet asking for the same manager's state) is waited for, not sent again."""
    host = real(host)
    if host not in _FACTS:
        _FACTS[host] = {}
    cache = _FACTS[host]
    key = (fact_cls.__name__, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
    if key not in cache:
        cache[key] = pending = gevent.event.AsyncResult()
        try:
            pending.set(host.get_fact(fact_cls, **kwargs))
        except BaseException as e:
            pending.set_exception(e)
    return cache[key].get()


def forget(host, fact_cls) -> None:
    """Drops a fact that an operation has just changed (every argument set of it)."""
    cache = _FACTS.get(real(host), {})
    for key in [k for k in cache if k[0] == fact_cls.__name__]:
        del cache[key]
