"""The run's reads: one read of each fact per host and run, and one round trip for all of them.

pyinfra 3 does not cache facts, and dockwright reads the same state twice: in preflight (before
any change, to validate) and in the operations, so the first read serves both. An operation
whose commands change what a fact describes yields ``forget_after(Fact)``: the operations after
it, which pyinfra runs again when it executes them, then read the new state.

Each concern keeps its own fact (a class with ``command`` and ``process``, as pyinfra's are).
``prefetch`` sends the commands of every fact a host will be asked for in one remote shell, run
side by side on the host (``HostState``), and hands each output to its own fact's ``process``:
a converged run costs one round trip per host, not one per concern.
"""


import shlex

import gevent.event
from pyinfra.api import FactBase, FunctionCommand

from . import liveness, run
from .pyinfra_context import unwrap

MARK = "@@dockwright-part"


# Every part's frame and output by one awk process (two processes per part cost as much as the
# parts themselves on a small or emulated host): "MARK index status lines", then the lines.
SHOW = ("BEGIN { for (i = 0; i < parts; i++) { f = d \"/\" i; n = 0; "
        "while ((getline line < f) > 0) out[++n] = line; close(f); "
        f"rc = \"?\"; getline rc < (f \".rc\"); close(f \".rc\"); print \"{MARK}\", i, rc, n; "
        "for (j = 1; j <= n; j++) print out[j] } }")


class HostState(FactBase):
    """
    Runs several fact commands at once, side by side, in one remote shell; returns, for each in
    order, ``(exit status, output lines)``. Each output is framed by its line count, so no
    output can be mistaken for a frame.

    .. code:: python

        host.get_fact(HostState, commands=("ip -4 -o route show table main", "nproc"))
    """

    def command(self, commands: tuple[str, ...]):
        run = " ".join(f'{{ ( {c} ) >"$d/{i}" 2>/dev/null; echo $? >"$d/{i}.rc"; }} &' for i, c in enumerate(commands))
        return (f"d=$(mktemp -d) || exit 1; {run} wait; awk -v d=\"$d\" -v parts={len(commands)} "
                f"{shlex.quote(SHOW)}; rm -rf \"$d\"")

    def process(self, output):
        parts, i = [], 0
        while i < len(output):
            mark, _, rc, count = output[i].split(" ")
            if mark != MARK:
                raise ValueError(f"HostState: unexpected line {output[i]!r}")
            parts.append((int(rc), output[i + 1:i + 1 + int(count)]))
            i += 1 + int(count)
        return parts


class ReadFailed(Exception):
    """A host's read failed (unreachable, silent, or its command failed): pyinfra has failed
    that host, and no default value stands in for what could not be read."""

    def __init__(self, host_name: str, fact: str, why: str):
        super().__init__(f"{host_name}: cannot read {fact}: {why}")
        self.host_name, self.fact, self.why = host_name, fact, why


def _read(host, fact_cls, **kwargs):
    """host.get_fact, except that a read after which pyinfra failed the host raises ReadFailed
    (pyinfra then returns the fact's default, which must never be taken for the host's state)."""
    value = host.get_fact(fact_cls, **kwargs)
    state = getattr(host, "state", None)
    if state is not None and host in state.failed_hosts:
        raise ReadFailed(host.name, fact_cls.__name__, run.of(host).declared.get(host.name, "the read failed"))
    return value


# The object behind pyinfra's context proxies (``pyinfra.host`` is one proxy for all).
real = unwrap


def _cache(host) -> dict:
    return run.of(host).reads.setdefault(host, {})


def key(fact_cls, kwargs) -> tuple:
    """What a read is cached under: the fact and its arguments."""
    return (fact_cls.__name__, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))


def get(host, fact_cls, **kwargs):
    """The fact, read once per host and run. A read already in flight (another host's
    greenlet asking for the same manager's state, or a prefetch) is waited for, not sent again."""
    host = real(host)
    cache = _cache(host)
    wanted = key(fact_cls, kwargs)
    if wanted not in cache:
        cache[wanted] = pending = gevent.event.AsyncResult()
        liveness.watch(host)
        try:
            pending.set(_read(host, fact_cls, **kwargs))
        except BaseException as e:
            pending.set_exception(e)
        liveness.watch(host)  # connected by this read (a manager outside --limit)
    return cache[wanted].get()


def prefetch(host, wanted: list[tuple[type, dict]]) -> None:
    """Reads every (fact, arguments) in ``wanted`` not read yet in one round trip. A fact whose
    command fails there is read again on its own, so pyinfra reports the failure as usual."""
    host = real(host)
    cache = _cache(host)
    todo = []
    for fact_cls, kwargs in wanted:
        fact = fact_cls()
        needs = fact.requires_command(**kwargs) if callable(fact.requires_command) else fact.requires_command
        if key(fact_cls, kwargs) in cache or needs or fact.shell_executable:
            continue  # pyinfra wraps these in its own guard: read them on their own
        command = fact.command(**kwargs) if callable(fact.command) else fact.command
        command = command.get_raw_value() if hasattr(command, "get_raw_value") else str(command)
        todo.append((fact_cls, kwargs, fact, command))
    if len(todo) < 2:
        return
    liveness.watch(host)
    pending = [cache.setdefault(key(c, kw), gevent.event.AsyncResult()) for c, kw, _, _ in todo]
    try:
        parts = _read(host, HostState, commands=tuple(command for *_, command in todo))
    except BaseException as e:
        for p in pending:
            p.set_exception(e)
        raise
    for (fact_cls, kwargs, fact, _), result, part in zip(todo, pending, parts or [None] * len(todo)):
        try:
            if part is None or part[0] != 0:
                raise LookupError  # as pyinfra itself would read it: it reports the failure
            result.set(fact.process(part[1]) if part[1] else fact.default())
        except BaseException:
            try:
                result.set(_read(host, fact_cls, **kwargs))
            except BaseException as e:
                result.set_exception(e)


def forget(host, fact_cls) -> None:
    """Drops a fact that an operation has just changed (every argument set of it)."""
    cache = _cache(real(host))
    for key in [k for k in cache if k[0] == fact_cls.__name__]:
        del cache[key]


def _forget(state, host, *fact_classes) -> bool:
    for fact_cls in fact_classes:
        forget(host, fact_cls)
    return True


def forget_after(*fact_classes) -> FunctionCommand:
    """The step an operation yields after the commands that change what the facts describe:
    pyinfra runs the later operations' generators again when it executes them, and they then
    read the new state instead of this run's first read."""
    return FunctionCommand(_forget, fact_classes, {})
