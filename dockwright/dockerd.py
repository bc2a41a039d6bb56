"""Reads that need dockerd: bounded, and a daemon that does not answer is said so, never read as
"no networks" or "not in a swarm".

A fact whose docker command fails or hangs (dockerd stopped, or hung) answers ``Down(why)``.
Operations that need such a fact call ``unavailable(host, what, answer)``: while pyinfra plans,
the operation waits for the engine operation (which starts an installed dockerd and makes the
later operations read again); when it executes and dockerd still does not answer, that host
fails, naming what could not be read. Preflight leaves such a host's Docker checks to the
operations, and the swarm leader election counts a manager whose dockerd does not answer as one
that cannot be asked.
"""

from dataclasses import dataclass

from pyinfra.api import FunctionCommand

from . import host_reader, refusal

MARK = host_reader.DOWN
# Whether this dockerd can check a config file (Engine 23+): the candidate check and the rollout
# script both ask it this way.
HAS_VALIDATE = "dockerd --help 2>&1 | grep -q -- --validate"
BOUND = host_reader.BOUND  # seconds a docker CLI call in a read may take (a hung dockerd never answers)


@dataclass(frozen=True)
class Down:
    why: str

    def __str__(self) -> str:
        return f"dockerd is not answering ({self.why})"


def call(command: str) -> str:
    """A docker CLI command for a fact: bounded, and on failure MARK with its exit status."""
    return f"timeout -k 5 {BOUND} {command} || echo {MARK} $?"


def api_or_cli(what: str, cli: str) -> str:
    """The Engine API read ``what`` ("networks" or "swarm") by the host's python3 when it has one
    and the daemon is the local one (dockwright.host_reader: the docker CLI is a large Go binary,
    and each start of it costs a second or more on a small or emulated host), else the CLI
    command ``cli`` (already bounded). It prints what the CLI command prints (`docker network
    inspect` of every network as one JSON array; `docker info`'s Swarm section), or MARK with
    the reason. A network removed between the list and its inspect is left out, as the CLI
    would not list it a moment later."""
    return f"{host_reader.USABLE} {host_reader.python_command([what], bare=True)}; else {cli}; fi"


class EngineApiFact(host_reader.PythonPart):
    """What a fact that reads the Engine API adds to pyinfra's FactBase: ``api``, its op for the
    host's reader, and ``cli()``, the bounded docker CLI command that stands in for it. Read
    alone it starts its own reader; in the host-state read it shares the one reader."""
    api: str

    def cli(self) -> str:
        raise NotImplementedError

    def command(self):
        return api_or_cli(self.api, self.cli())

    def ops(self) -> list[str]:
        return [self.api]

    def fallback(self) -> str:
        return self.cli()  # where the reader cannot serve, neither can the client it would start

    def lines(self, answers):
        # A part the reader never reached is down, never empty.
        return answers[0] if answers[0] is not None else [f"{MARK} error the Engine API read ended early"]


# `docker info` exits 0 on some clients (Engine 26's) when the daemon does not answer, with an
# empty swarm section: its template says so instead ("error" and the client's message).
INFO_SERVER_ERRORS = "{{if .ServerErrors}}" + MARK + " error {{.ServerErrors}}{{else}}"


def down(output: list[str]) -> Down | None:
    """Down when the fact's output holds MARK (the docker call failed, timed out, or the
    client reported server errors)."""
    for line in output:
        if line.startswith(MARK):
            words = line.split(maxsplit=2)
            rc = words[1] if len(words) > 1 else "?"
            if rc == "error":
                return Down(words[2].strip("[]") if len(words) > 2 else "the client reports a server error")
            # 124 and 137: timeout(1) ended the CLI; 142: the API client's own alarm.
            return Down("timed out after %d s" % BOUND if rc in ("124", "137", "142") else f"docker exited {rc}")
    return None


def _nothing(state, host) -> bool:
    return True


def unavailable(host, what: str, answer: Down):
    """What an operation yields when dockerd did not answer its read: a step that does nothing
    while pyinfra plans (the engine operation may start dockerd, and the generator runs again
    when executed); when it executes, that host fails alone, naming what could not be read."""
    if refusal.executing(host):
        yield from refusal.refuse(host, f"{what}: {answer}")
        return
    yield FunctionCommand(_nothing, (), {})
