"""One read of each fact per host and run.

pyinfra 3 does not cache facts, and dockwright reads the same state twice: in preflight (before
any change, to validate) and in the operations. The state a fact describes is only changed by
the operation that reads it, after it has read it, so the first read serves both.
"""


def get(host, fact_cls, **kwargs):
    cache = getattr(host, "_dockwright_facts", None)
    if cache is None:
        cache = {}
        host._dockwright_facts = cache
    key = (fact_cls.__name__, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
    if key not in cache:
        cache[key] = host.get_fact(fact_cls, **kwargs)
    return cache[key]
