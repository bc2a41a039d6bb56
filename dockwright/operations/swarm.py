"""Swarm membership. Join tokens are read from the manager at run time, sent to the joining
host's Engine API on stdin (never a command-line argument there), and never printed, logged or
written to disk."""

import json
import shlex

from pyinfra import host
from pyinfra.api import FunctionCommand, operation

from .. import dockerd, facts, factcache, refusal, remote
from ..facts.engine import SwarmState
from ..host_paths import DOCKER_SOCKET
from ..plans.swarm import init_plan, join_plan, standalone_plan


def _decided(plan_of):
    """The plan ``plan_of`` makes of this host's swarm state, its items recorded (yielded from);
    None when the operation stops here: dockerd does not answer, or the plan refuses the host."""
    state = facts.swarm().get(host)
    if isinstance(state, dockerd.Down):
        yield from dockerd.unavailable(host, "swarm state", state)
        return None
    decided = plan_of(state)
    return decided if (yield from refusal.decided(host, "swarm", decided)) else None


@operation()
def init(advertise_addr: str):
    """
    Initialise a swarm on this host (the first manager) unless it already leads one.

    + advertise_addr: the IPv4 address other nodes reach this one on

    **Example:**

    .. code:: python

        swarm.init(name="swarm init", advertise_addr="10.99.0.11")
    """
    decided = yield from _decided(init_plan)
    if decided is None:
        return
    if not decided.act:
        host.noop("already a swarm manager")
        return
    yield (f"docker swarm init --advertise-addr {shlex.quote(advertise_addr)} "
           f"--listen-addr {shlex.quote(advertise_addr)}:2377")
    yield factcache.forget_after(SwarmState)  # joins after this read the new swarm


# Joins through the Engine API on the local socket with the request body (which holds the
# token) on stdin: `docker swarm join --token T` would put T in /proc/PID/cmdline, readable by
# every local user. curl where the host has it, else python3 (isolated, from /: a socket.py in
# the SSH user's home would otherwise be imported, as root, with the token on stdin); neither is
# a clear failure.
_JOIN_PY = rf"""
import socket, sys
body = sys.stdin.buffer.read()
s = socket.socket(socket.AF_UNIX)
s.settimeout(180)
s.connect("{DOCKER_SOCKET}")
s.sendall(b"POST /swarm/join HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body) + body)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, payload = data.partition(b"\r\n\r\n")
code = int(head.split()[1]) if head else 599
if code >= 300:
    sys.stderr.write("HTTP %d: %s\n" % (code, payload.decode(errors="replace")))
sys.exit(0 if code < 300 else 1)
"""
JOIN_VIA_API = (
    "if command -v curl >/dev/null 2>&1; then "
    f"curl -sS --fail-with-body --max-time 180 --unix-socket {DOCKER_SOCKET} "
    "-H 'Content-Type: application/json' -X POST --data-binary @- http://localhost/swarm/join "
    ">/dev/null; "
    f"elif command -v python3 >/dev/null 2>&1; then env -C / python3 -I -S -c {shlex.quote(_JOIN_PY)}; "
    "else echo 'swarm join: this host has neither curl nor python3 to call the Engine API; "
    "dockwright will not pass the join token on a command line' >&2; exit 1; fi"
)


def join_body(token: str, advertise_addr: str, manager_addr: str) -> str:
    return json.dumps({"ListenAddr": f"{advertise_addr}:2377", "AdvertiseAddr": advertise_addr,
                       "RemoteAddrs": [f"{manager_addr}:2377"], "JoinToken": token})


def _join(state, host, manager, role: str, advertise_addr: str, manager_addr: str | None,
          conn: dict | None = None):
    """Reads the token on the manager and joins through the Engine API, the token on stdin."""
    ok, out = remote.run(manager, f"docker swarm join-token -q {shlex.quote(role)}", conn)
    token = out.stdout.strip()
    if not ok or not token:
        host.log_styled(f"could not read the {role} join token from {manager.name}", fg="red")
        return False
    addr = manager_addr or facts.swarm().get(manager)["node_addr"]
    ok, out = remote.run(host, JOIN_VIA_API, conn, stdin=join_body(token, advertise_addr, addr))
    if not ok:
        for line in out.stderr_lines:
            host.log(f"swarm join: {line.replace(token, '***')}")
    return ok


@operation()
def join(manager, role: str, advertise_addr: str, manager_addr: str | None = None):
    """
    Join the swarm led by ``manager`` as ``role``; no change when already in that swarm.

    + manager: the pyinfra host of the first manager
    + role: ``manager`` or ``worker``
    + advertise_addr: this host's address on the data network
    + manager_addr: the manager's advertise address as its data gives it (default: the address
      the manager itself reports)

    **Example:**

    .. code:: python

        swarm.join(name="swarm join", manager=inventory.get_host("lab1"), role="worker",
                   advertise_addr="10.99.0.12")
    """
    # The leader's state through the run's cache: every joiner asks for the same manager's.
    mine, leader = facts.swarm().get(host), facts.swarm().get(manager)
    for who, state in ((host.name, mine), (manager.name, leader)):
        if isinstance(state, dockerd.Down):
            yield from dockerd.unavailable(host, f"swarm state of {who}", state)
            return
    decided = join_plan(role, mine, leader, manager_addr)
    if not (yield from refusal.decided(host, "swarm", decided)):
        return
    if not decided.act:
        host.noop(f"already a swarm {role}")
        return
    yield FunctionCommand(_join, (manager, role, advertise_addr, manager_addr, remote.connector_args(host)), {})


@operation()
def standalone():
    """
    Fail when a host whose data has no swarm role is in a swarm (leaving is left to a person:
    it drops the host's services).

    **Example:**

    .. code:: python

        swarm.standalone(name="standalone: not in a swarm")
    """
    if (yield from _decided(standalone_plan)) is not None:
        host.noop("not in a swarm")
