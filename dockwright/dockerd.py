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

from pyinfra.api import FunctionCommand, OperationError

MARK = "@@dockerd-down"
BOUND = 60  # seconds a docker CLI call in a read may take (a hung dockerd never answers)


@dataclass(frozen=True)
class Down:
    why: str

    def __str__(self) -> str:
        return f"dockerd is not answering ({self.why})"


def call(command: str) -> str:
    """A docker CLI command for a fact: bounded, and on failure MARK with its exit status."""
    return f"timeout -k 5 {BOUND} {command} || echo {MARK} $?"


def down(output: list[str]) -> Down | None:
    """Down when the fact's output holds MARK (the docker call failed or timed out)."""
    for line in output:
        if line.startswith(MARK):
            rc = line.split()[1] if len(line.split()) > 1 else "?"
            return Down("timed out after %d s" % BOUND if rc in ("124", "137") else f"docker exited {rc}")
    return None


def _nothing(state, host) -> bool:
    return True


def unavailable(host, what: str, answer: Down):
    """What an operation yields when dockerd did not answer its read: a step that does nothing
    while pyinfra plans (the engine operation may start dockerd, and the generator runs again
    when executed); OperationError, naming what, when it executes."""
    if getattr(host.state, "is_executing", False):
        raise OperationError(f"{what}: {answer}")
    host.noop(f"{what}: decided once dockerd answers ({answer})")
    yield FunctionCommand(_nothing, (), {})
