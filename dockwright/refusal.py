"""How an operation stops on one host, alone: the host fails with the reason, every other host
goes on, with or without -y.

pyinfra 3.10 runs an operation's generator twice: while it plans (without -y, to detect changes)
and when it executes. An OperationError raised while it plans is caught by deploy.py
(refusal.planned fails that host); raised while it executes, pyinfra ends the whole run
("Operation error"). So when executing, ``refuse`` yields a step that fails instead: pyinfra
then fails that host the usual way.
"""

from pyinfra.api import FunctionCommand, OperationError

from . import outcomes


def executing(host) -> bool:
    """Whether pyinfra executes the operation now (else it plans: the generator runs in both)."""
    return bool(getattr(host.state, "is_executing", False))


def _say(host, why) -> None:
    host.log_styled(f"refused, nothing changed on this host: {why}", fg="red")
    outcomes.fail(host, f"refused: {why}")


def _refused(state, host, why: str) -> bool:
    _say(host, why)
    return False


def refuse(host, why: str):
    """Yielded from by an operation that must not act on host (then it returns)."""
    if executing(host):
        yield FunctionCommand(_refused, (why,), {})
        return
    raise OperationError(why)


def decided(host, concern: str, plan):
    """Records the plan's drift items under concern; when the plan has a problem or a refusal,
    stops this host. Yielded from by an operation, which goes on only when this returns True:

        if not (yield from refusal.decided(host, "swarm", decided)):
            return
    """
    outcomes.record(host, concern, plan)
    if plan.error():
        yield from refuse(host, plan.error())
        return False
    return True


def planned(host, error: Exception) -> None:
    """What deploy.py does with a refusal raised while pyinfra plans: that host fails alone,
    with the reason, and the others go on."""
    from pyinfra.context import state
    from .factcache import real
    _say(host, error)
    state.fail_hosts({real(host)})
