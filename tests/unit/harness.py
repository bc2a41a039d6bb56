"""pyinfra-style operation tests: given these facts, an operation yields exactly these commands.

Operations run through their undecorated generator (``op._inner``) against a fake host whose
facts come from the case; nothing connects anywhere.
"""

from pathlib import Path
from types import SimpleNamespace

import yaml
from pyinfra.api import FunctionCommand, StringCommand
from pyinfra.context import ctx_host

# /etc/os-release of a Debian host, as the DockerEngine fact reads it.
DEBIAN = {"ID": "debian", "VERSION_ID": "12"}

SPECS = Path(__file__).resolve().parent / "specs"


class FakeState(SimpleNamespace):
    """The parts of pyinfra's State a fake host needs (a run is keyed by it, weakly, by identity
    as a State is)."""
    __hash__ = object.__hash__
    __eq__ = object.__eq__


class FakeHost:
    """The unit tests' one fake host. Facts come from ``facts`` ({fact class name: value, or a
    callable of the fact's arguments}); a shell command run from a Python callback (rollout,
    swarm join, network recreate) is answered by ``answer(command text) -> (ok, lines)`` and
    recorded in ``ran`` as (text, connector arguments)."""

    def __init__(self, facts: dict | None = None, name: str = "testhost", diff: bool = False,
                 executing: bool = False, answer=None):
        self.name = name
        self.facts = facts or {}
        # pyinfra's --diff, and the hosts it has failed (a failed read fails its host)
        # and whether pyinfra executes (else it plans: a generator runs in both)
        self.state = FakeState(config=SimpleNamespace(DIFF=diff), failed_hosts=set(), is_executing=executing)
        self.answer = answer or (lambda text: (True, []))
        self.noops: list[str] = []
        self.logged: list[str] = []
        self.asked: list[tuple[str, dict]] = []
        self.ran: list[tuple[str, dict]] = []

    def get_fact(self, fact_cls, *args, **kwargs):
        self.asked.append((fact_cls.__name__, kwargs))
        try:
            value = self.facts[fact_cls.__name__]
        except KeyError:
            raise AssertionError(f"case gives no fact {fact_cls.__name__} (asked with {kwargs})")
        return value(**kwargs) if callable(value) else value

    def run_shell_command(self, command, **kwargs):
        text = command.get_raw_value() if hasattr(command, "get_raw_value") else str(command)
        self.ran.append((text, kwargs))
        ok, lines = self.answer(text)
        return ok, SimpleNamespace(output_lines=lines, stdout_lines=lines, stdout="\n".join(lines),
                                   stderr_lines=[] if ok else ["boom"])

    def commands(self) -> list[str]:
        """The texts of the commands run, in order."""
        return [text for text, _ in self.ran]

    def noop(self, message: str) -> None:
        self.noops.append(message)

    def log(self, message: str, *args, **kwargs) -> None:
        self.noops.append(message)
        self.logged.append(message)

    log_styled = log


def answers(table: dict, match=str.startswith):
    """An ``answer`` from {key: lines or (ok, lines)}: the first key that ``match(text, key)``
    answers; any other command succeeds silently."""
    def answer(text):
        for key, value in table.items():
            if match(text, key):
                return value if isinstance(value, tuple) else (True, value)
        return True, []
    return answer


def run(op, facts: dict, *args, fake: FakeHost | None = None, **kwargs) -> tuple[list, FakeHost]:
    """(commands the operation yields, the fake host) — strings for shell commands."""
    fake = fake or FakeHost(facts)
    with ctx_host.use(fake):
        commands = []
        for cmd in op._inner(*args, **kwargs):
            if isinstance(cmd, StringCommand):
                cmd = str(cmd)
            commands.append(cmd if isinstance(cmd, (str, FunctionCommand)) else str(cmd))
    return commands, fake


def load_specs() -> list[tuple[str, dict]]:
    """Every case file under specs/<module>.<operation>/<case>.yaml."""
    cases = []
    for path in sorted(SPECS.glob("*/*.yaml")):
        cases.append((f"{path.parent.name}/{path.stem}", yaml.safe_load(path.read_text())))
    return cases
