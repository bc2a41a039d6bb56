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
from typing import Callable, NamedTuple

from pyinfra.api import FunctionCommand

from . import refusal
from .host_paths import DOCKER_SOCKET

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
# It prints what the CLI command it stands for prints (`docker network inspect` of every network
# as one JSON array; `docker info`'s Swarm section), or MARK with the reason. Python's start is
# most of a read's cost, so the client imports only C modules built into the interpreter: the
# socket (_socket), a bound on the whole read (_signal: SIGALRM ends it, exit 142, as timeout
# would), and json's own scanner (_json, the C half of json.loads, without the re module that
# json's Python half imports): the daemon's JSON is passed on as the daemon wrote it, and parsed
# only to find the networks' IDs and where the Swarm section is. python3 starts isolated and
# without site (-I -S), from /: no .pth files read, and no module imported from the working
# directory (with --sudo, the SSH user's home). A network removed between the list and its
# inspect is left out, as the CLI would not list it a moment later.
API_CLIENT = r"""
import _socket, _signal, sys
_signal.alarm(%d)
try:
    import _json
    class Ctx:
        strict, object_hook, object_pairs_hook = True, None, None
        parse_float, parse_int, parse_constant, memo = float, int, float, {}
    scan = _json.make_scanner(Ctx())
except Exception:
    import json
    scan = json.JSONDecoder().scan_once
def get(path):
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM); s.settimeout(30); s.connect("%s")
    s.sendall(("GET %%s HTTP/1.0\r\nHost: docker\r\n\r\n" %% path).encode()); data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n"); code = head.split(None, 2)[1].decode()
    if code == "404" and path.startswith("/networks/"): return None
    if code != "200": raise OSError("the Engine API answered HTTP %%s to GET %%s" %% (code, path))
    return body.decode().strip()
def skip(text, i, chars=" \t\r\n"):
    while text[i] in chars: i += 1
    return i
def member(text, name):
    i = skip(text, skip(text, 0) + 1)
    while text[i] != "}":
        key, i = scan(text, i)
        start = skip(text, skip(text, i) + 1)
        _, i = scan(text, start)
        if key == name: return text[start:i]
        i = skip(text, skip(text, i), " \t\r\n,")
    raise OSError("no %%s in the Engine API's answer" %% name)
try:
    for what in sys.argv[1:]:
        if len(sys.argv) > 2: print("@@api " + what)
        if what == "networks":
            nets = [get("/networks/" + n["Id"]) for n in scan(get("/networks"), 0)[0]]
            print("[" + ",".join(n for n in nets if n is not None) + "]")
        else:
            print(member(get("/info"), "Swarm"))
except Exception as e:
    print("@@dockerd-down error %%s: %%s" %% (type(e).__name__, str(e).replace("\n", " ")))
""".strip() % (BOUND, DOCKER_SOCKET)


def api_or_cli(what: str, cli: str) -> str:
    """The read ``what`` ("networks", "swarm", or both, space separated) through the Engine API
    when the host has python3 and the daemon is the local one, else the CLI command ``cli``
    (already bounded)."""
    return (f'if [ -z "${{DOCKER_HOST:-}}" ] && command -v python3 >/dev/null 2>&1; then '
            f"cd / && python3 -I -S -c {shlex.quote(API_CLIENT)} {what} || echo {MARK} $?; else {cli}; fi")


def shared_read(facts: list) -> str:
    """One command for several Engine API facts (EngineApiFact): one python3 asks the API for
    every part, so that a host starts one interpreter, not one per fact. Each part's output
    follows an ``@@api NAME`` line (split_shared takes them apart)."""
    cli = "; ".join(f"echo '@@api {f.api}'; {f.cli()}" for f in facts)
    return api_or_cli(" ".join(f.api for f in facts), cli)


def split_shared(output: list[str], facts: list) -> list[list[str]]:
    """Each fact's output from a shared_read, in facts' order. A part the read never reached
    (the client died, or its alarm ended it, first) answers MARK: a missing answer is never an
    empty one."""
    names = [f.api for f in facts]
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in output:
        if line.startswith("@@api ") and line[6:] in names:
            current = found.setdefault(line[6:], [])
        else:
            current.append(line)
    down = next((x for x in output if x.startswith(MARK)), f"{MARK} error the Engine API read ended early")
    return [found[n] if n in found else [down] for n in names]


class SharedRead(NamedTuple):
    """How several facts share one part of the host-state read (dockwright.factcache): the
    command for them all, and the split of its output into each one's."""
    command: Callable[[list], str]
    split: Callable[[list[str], list], list[list[str]]]


ENGINE_API = SharedRead(shared_read, split_shared)


class EngineApiFact:
    """What a fact that reads the Engine API adds to pyinfra's FactBase: ``api``, its part's name
    for the client, and ``cli()``, the bounded docker CLI command that stands in for it. Read
    alone it runs its own client; in the host-state read it shares one (ENGINE_API)."""
    api: str
    shared = ENGINE_API

    def cli(self) -> str:
        raise NotImplementedError

    def command(self):
        return api_or_cli(self.api, self.cli())


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
