"""A host that stops answering is declared unreachable within DEAD_AFTER seconds, whatever it
was asked to do.

A host whose kernel died, or one behind a path that drops packets without a reset, leaves the
SSH session open: nothing answers and nothing fails, so a command in flight waits for ever and
the run waits with it. OpenSSH's ServerAliveInterval/ServerAliveCountMax ask the server for a
reply; paramiko's keepalive (what pyinfra sets from an ssh_config ServerAliveInterval) sends
requests that want none, so it can keep a NAT entry open but never sees a dead host.

``watch(host)`` does what OpenSSH does: every INTERVAL seconds it sends a
``keepalive@openssh.com`` global request that wants a reply, and when no reply has come
DEAD_AFTER seconds after the last one, it closes the host's SSH transport. The command in flight
then ends at once (its channel is closed, so its status is a failure), pyinfra fails that host
the usual way, and every other host goes on; the run keeps why (``Run.declared``). A reply, even the "request failed" every OpenSSH
server sends for this request, proves the host alive: the question is only whether anything
answers.
"""

import os
import weakref

import gevent
from pyinfra import logger

from . import run

INTERVAL = 15    # seconds between keepalives
DEAD_AFTER = 60  # no reply for this long: the host is declared unreachable

_WATCHED: "weakref.WeakSet" = weakref.WeakSet()  # transports under watch
# A file (its path in this variable: a fleet's names never go in the environment) where a run
# started by drift.py --fix tells which hosts it declared unreachable, and why.
OUTCOME_ENV = "DOCKWRIGHT_OUTCOME_FILE"


def _tell(name: str, why: str) -> None:
    path = os.environ.get(OUTCOME_ENV)
    if path:
        with open(path, "a") as f:
            f.write(f"{name}\t{why}\n")


def transport_of(host):
    """The paramiko transport of host's SSH connection; None for other connectors (@local,
    @docker) or before it connects. pyinfra 3.10: ``host.connector.client`` is the SSHClient."""
    client = getattr(getattr(host, "connector", None), "client", None)
    get = getattr(client, "get_transport", None)
    return get() if get else None


def _answers(transport, wait: float) -> bool:
    """True when the server replies to a keepalive within wait seconds."""
    try:
        with gevent.Timeout(wait):
            transport.global_request("keepalive@openssh.com", wait=True)
        return transport.is_active()
    except gevent.Timeout:
        return False
    except Exception:  # noqa: BLE001 - a transport that errors is closed below, named
        return False


def _watch(host, transport, interval: float, dead_after: float) -> None:
    while transport.is_active():
        gevent.sleep(interval)
        if not transport.is_active():
            return
        if not _answers(transport, dead_after - interval):
            why = f"no answer over SSH for {dead_after:g} s (keepalive every {interval:g} s)"
            run.of(host).declared[host.name] = why
            logger.error(f"{host.print_prefix}declared unreachable: {why}")
            _tell(host.name, why)
            transport.close()
            return


def watch(host, interval: float = INTERVAL, dead_after: float = DEAD_AFTER) -> None:
    """Watches host's SSH session from now on (once per connection; a no-op without one)."""
    transport = transport_of(host)
    if transport is None or not transport.is_active():
        return
    if transport in _WATCHED:
        return
    _WATCHED.add(transport)
    gevent.spawn(_watch, host, transport, interval, dead_after)
