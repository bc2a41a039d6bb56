"""pyinfra's context managers (``pyinfra.context``: ``ctx_state``, ``ctx_host``), beyond its
documented API: which run and host a deploy file is being executed for, and the object behind
the ``pyinfra.host`` proxy. dockwright keys a run's state weakly by these objects, and a proxy is
one object for every host. At the bottom of the layers: the run (dockwright.run) stands on it.
Checked against the pyinfra versions dockwright.pyinfra_internals names."""

from pyinfra import context


def current_state():
    """The State of the run being planned or executed, or None outside one."""
    return context.ctx_state.get() if context.ctx_state.isset() else None


def unwrap(obj):
    """The object behind pyinfra's context proxies (``pyinfra.host``, ``pyinfra.state``): the
    host or state of the current deploy file; any other object as it is."""
    if obj is context.host:
        return context.ctx_host.get()
    if obj is context.state:
        return context.ctx_state.get()
    return obj


def use_state(state) -> None:
    """Makes state the current one, for facts and connections made through pyinfra's API
    outside a deploy file (netbench)."""
    context.ctx_state.set(state)


def state_in_use(state):
    """A context manager: state is the current one while it lasts (loading an inventory)."""
    return context.ctx_state.use(state)
