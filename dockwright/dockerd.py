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

import shlex
from dataclasses import dataclass

from pyinfra.api import FunctionCommand

from . import refusal

MARK = "@@dockerd-down"
# Whether this dockerd can check a config file (Engine 23+): the candidate check and the rollout
# script both ask it this way.
HAS_VALIDATE = "dockerd --help 2>&1 | grep -q -- --validate"
BOUND = 60  # seconds a docker CLI call in a read may take (a hung dockerd never answers)


@dataclass(frozen=True)
class Down:
    why: str

    def __str__(self) -> str:
        return f"dockerd is not answering ({self.why})"


def call(command: str) -> str:
    """A docker CLI command for a fact: bounded, and on failure MARK with its exit status."""
    return f"timeout -k 5 {BOUND} {command} || echo {MARK} $?"


# The Engine API on the local socket, asked by the host's python3 in one process: the docker CLI
# is a large Go binary, and each start of it costs a second or more on a small or emulated host.
# It prints what the CLI command it stands for prints (`docker network inspect` of every network;
# `docker info`'s Swarm section as JSON), or MARK with the reason. It needs only the standard
# library, so python3 starts isolated and without site (-I -S), from /: no .pth files read, and
# no module imported from the working directory (with --sudo, the SSH user's home). A network
# removed between the list and its inspect is left out, as the CLI would not list it a moment
# later.
API_CLIENT = r"""
import json, socket, sys
def get(path):
    s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect("/var/run/docker.sock")
    s.sendall(("GET %s HTTP/1.0\r\nHost: docker\r\n\r\n" % path).encode()); data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n"); code = head.split(None, 2)[1].decode()
    if code == "404" and path.startswith("/networks/"): return None
    if code != "200": raise OSError("the Engine API answered HTTP %s to GET %s" % (code, path))
    return json.loads(body.decode())
try:
    if sys.argv[1] == "networks":
        nets = [get("/networks/" + n["Id"]) for n in get("/networks")]
        out = json.dumps([n for n in nets if n is not None])
    else:
        out = json.dumps(get("/info")["Swarm"])
except Exception as e:
    out = "@@dockerd-down error %s: %s" % (type(e).__name__, str(e).replace("\n", " "))
print(out)
""".strip()


def api_or_cli(what: str, cli: str) -> str:
    """The read ``what`` ("networks" or "swarm") through the Engine API when the host has
    python3 and the daemon is the local one, else the CLI command ``cli`` (already bounded)."""
    return (f'if [ -z "${{DOCKER_HOST:-}}" ] && command -v python3 >/dev/null 2>&1; then '
            f"{call('env -C / python3 -I -S -c ' + shlex.quote(API_CLIENT) + ' ' + what)}; else {cli}; fi")


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
            return Down("timed out after %d s" % BOUND if rc in ("124", "137") else f"docker exited {rc}")
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
