"""The run's reads: one read of each fact per host and run, and one round trip for all of them.

pyinfra 3 does not cache facts, and dockwright reads the same state twice: in preflight (before
any change, to validate) and in the operations, so the first read serves both. An operation
whose commands change what a fact describes yields ``forget_after(Fact)``: the operations after
it, which pyinfra runs again when it executes them, then read the new state.

Each concern keeps its own fact (a class with ``command`` and ``process``, as pyinfra's are).
``prefetch`` sends the commands of every fact a host will be asked for in one remote shell, run
one after another on the host (``HostState``), and hands each output to its own fact's ``process``:
a converged run costs one round trip per host, not one per concern.
"""


import gevent.event
from pyinfra.api import FactBase, FunctionCommand

from . import liveness, remote, run
from .pyinfra_context import unwrap

MARK = "@@dockwright-part"


class HostState(FactBase):
    """
    Runs several fact commands in one remote shell, one after another; returns, for each in
    order, ``(exit status, output lines)``.

    Each output is followed by a frame line that holds a nonce the host draws for this read
    (``/proc/sys/kernel/random/uuid``, read by the shell), so no output can forge a frame: it
    would have to know the nonce before it is drawn. The parts run in turn, not side by side:
    on a small or emulated host they share one CPU anyway, and in turn they need no temporary
    files and no process to put their outputs back together.

    .. code:: python

        host.get_fact(HostState, commands=("ip -4 -o route show table main", "nproc"))
    """

    def command(self, commands: tuple[str, ...]):
        # Each part without stdin (the session's must never be read), its frame after a newline
        # of its own (an output without a final newline would otherwise run into it).
        run = " ".join(f"( {c} ) </dev/null 2>/dev/null; printf '\\n%s {i} %s\\n' \"$n\" $?;" for i, c in enumerate(commands))
        return f"read -r n < /proc/sys/kernel/random/uuid || exit 1; n=\"{MARK} $n\"; echo \"$n\"; {run}"

    def process(self, output):
        if not output or not output[0].startswith(MARK + " ") or len(output[0].split(" ")) != 2:
            raise ValueError(f"HostState: no frame nonce at the start of the read ({output[:1]!r})")
        nonce = output[0] + " "
        parts, lines = [], []
        for line in output[1:]:
            if line.startswith(nonce):
                index, rc = line[len(nonce):].split(" ")
                if int(index) != len(parts):
                    raise ValueError(f"HostState: part {index} framed out of order")
                parts.append((int(rc), lines[:-1] if lines and lines[-1] == "" else lines))
                lines = []
            else:
                lines.append(line)
        return parts

    @staticmethod
    def frame(parts: list[tuple[int, list[str]]], nonce: str = "00000000-0000-4000-8000-000000000000") -> list[str]:
        """The lines a host answers for these (exit status, lines) parts: what a replayed or
        doctored recording of a read is made of."""
        out = [f"{MARK} {nonce}"]
        for i, (rc, lines) in enumerate(parts):
            out += [*lines, "", f"{MARK} {nonce} {i} {rc}"]
        return out


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
        todo.append((fact_cls, kwargs, fact))
    if len(todo) < 2:
        return
    jobs = read_parts(todo)
    liveness.watch(host)
    pending = [cache.setdefault(key(c, kw), gevent.event.AsyncResult()) for c, kw, _ in todo]
    try:
        parts = _read(host, HostState, commands=tuple(command for command, _ in jobs))
    except BaseException as e:
        for p in pending:
            p.set_exception(e)
        raise
    parts = list(parts or [])
    parts += [None] * (len(jobs) - len(parts))  # a read cut short: the rest are read on their own
    for (_, members), part in zip(jobs, parts):
        outputs = [None] * len(members)
        if part is not None and part[0] == 0:
            outputs = (members[0][2].shared.split(part[1], [(f, kw) for _, kw, f in members])
                       if len(members) > 1 else [part[1]])
        for (fact_cls, kwargs, fact), output in zip(members, outputs):
            result = cache[key(fact_cls, kwargs)]
            try:
                if output is None:
                    raise LookupError  # as pyinfra itself would read it: it reports the failure
                result.set(fact.process(output) if output else fact.default())
            except BaseException:
                try:
                    result.set(_read(host, fact_cls, **kwargs))
                except BaseException as e:
                    result.set_exception(e)


def read_parts(todo: list) -> list[tuple[str, list]]:
    """(command, [(fact class, arguments, fact)]) for each part of the read: a fact on its own, or
    the facts that name one ``shared`` read (the host's reader, dockwright.host_reader: one
    interpreter started on the host, not a process per file, package list or API call),
    together where there are several, at the place of the first."""
    groups: dict = {}
    for t in todo:
        groups.setdefault(getattr(t[2], "shared", None) or id(t), []).append(t)
    jobs = []
    for group in groups.values():  # in the order of each group's first fact
        if len(group) > 1:
            jobs.append((group[0][2].shared.command([(f, kw) for _, kw, f in group]), group))
        else:
            jobs.append((remote.fact_command(group[0][2], group[0][1]), group))
    return jobs


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
