"""Swarm membership. Join tokens are read from the manager at run time, passed to the joining
host inside one masked command, and never printed, logged or written to disk."""

import json
import shlex

from pyinfra import host
from pyinfra.api import FactBase, FunctionCommand, HiddenValue, OperationError, StringCommand, operation

from . import factcache, report

# Kernel modules encrypted overlays need (VXLAN + IPsec ESP in transport mode).
OVERLAY_MODULES = ("vxlan", "esp4", "xfrm_user", "xfrm_algo")
# CVE-2023-28841: encrypted overlays could send cleartext on engines before these.
SAFE_ENGINES = ((20, 10, 24), (23, 0, 3))


class SwarmState(FactBase):
    """
    ``docker info``'s swarm section plus the kernel modules overlays need, in one command.

    Returns ``{"state", "node_id", "manager", "cluster_id", "node_addr", "remote_managers",
    "modules_missing"}``.
    """

    def command(self):
        mods = " ".join(OVERLAY_MODULES)
        return (
            "docker info --format '{{json .Swarm}}' 2>/dev/null || echo '{}'; "
            f"for m in {mods}; do modprobe -n -q $m 2>/dev/null || [ -d /sys/module/$m ] "
            "|| echo missing-module $m; done"
        )

    def process(self, output):
        info = json.loads(output[0]) if output and output[0].startswith("{") else {}
        return {
            "state": info.get("LocalNodeState") or "inactive",
            "node_id": info.get("NodeID") or None,
            "manager": bool(info.get("ControlAvailable")),
            "cluster_id": (info.get("Cluster") or {}).get("ID"),
            "node_addr": info.get("NodeAddr") or None,
            "remote_managers": sorted(m.get("Addr") for m in info.get("RemoteManagers") or []),
            "modules_missing": [line.split()[1] for line in output if line.startswith("missing-module ")],
        }


def engine_problem(version: tuple | None) -> str | None:
    if version is None:
        return "engine version unknown"
    if version < SAFE_ENGINES[0] or ((23, 0, 0) <= version < SAFE_ENGINES[1]):
        return (f"engine {'.'.join(map(str, version))} can send encrypted-overlay traffic in "
                "cleartext (CVE-2023-28841); upgrade to 20.10.24 / 23.0.3 or later")
    return None


@operation()
def init(advertise_addr: str):
    """
    Initialise a swarm on this host (the first manager) unless it already leads one.

    + advertise_addr: the IPv4 address other nodes reach this one on

    **Example:**

    .. code:: python

        swarm.init(name="swarm init", advertise_addr="10.99.0.11")
    """
    state = factcache.get(host, SwarmState)
    if state["state"] == "active" and state["manager"]:
        host.noop("already a swarm manager")
        return
    if state["state"] != "inactive":
        raise OperationError(f"swarm state is {state['state']}: leave the other swarm first")
    report.drift(host, "swarm", "membership", "manager", state["state"])
    yield (f"docker swarm init --advertise-addr {shlex.quote(advertise_addr)} "
           f"--listen-addr {shlex.quote(advertise_addr)}:2377")


def _join(state, host, manager, role: str, advertise_addr: str):
    """Reads the token on the manager and joins in one masked command; the token stays in memory."""
    ok, out = manager.run_shell_command(StringCommand(f"docker swarm join-token -q {role}"),
                                        print_output=False)
    token = out.stdout.strip()
    if not ok or not token:
        host.log_styled(f"could not read the {role} join token from {manager.name}", fg="red")
        return False
    addr = manager.data.get("swarm", {}).get("advertise_addr") or manager.get_fact(SwarmState)["node_addr"]
    cmd = StringCommand("docker", "swarm", "join", "--token", HiddenValue(token),
                        "--advertise-addr", advertise_addr, "--listen-addr", f"{advertise_addr}:2377",
                        f"{addr}:2377")
    ok, out = host.run_shell_command(cmd, print_output=False)
    if not ok:
        for line in out.stderr_lines:
            host.log(f"swarm join: {line.replace(token, '***')}")
    return ok


@operation()
def join(manager, role: str, advertise_addr: str):
    """
    Join the swarm led by ``manager`` as ``role``; no change when already in that swarm.

    + manager: the pyinfra host of the first manager
    + role: ``manager`` or ``worker``
    + advertise_addr: this host's address on the data network

    **Example:**

    .. code:: python

        swarm.join(name="swarm join", manager=inventory.get_host("lab1"), role="worker",
                   advertise_addr="10.99.0.12")
    """
    state = factcache.get(host, SwarmState)
    manager_state = manager.get_fact(SwarmState)
    manager_addr = manager.data.get("swarm", {}).get("advertise_addr")
    if state["state"] == "active":
        ours = (state["cluster_id"] and state["cluster_id"] == manager_state["cluster_id"]) or \
            any(m.startswith(f"{manager_addr}:") for m in state["remote_managers"])
        if not ours:
            raise OperationError(f"member of another swarm (managers {', '.join(state['remote_managers'])});"
                                 f" dockwright will not move it: run `docker swarm leave` first")
        if state["manager"] != (role == "manager"):
            raise OperationError(f"in the swarm as {'manager' if state['manager'] else 'worker'}, "
                                 f"data says {role}: promote or demote it from a manager")
        host.noop(f"already a swarm {role}")
        return
    report.drift(host, "swarm", "membership", role, state["state"])
    yield FunctionCommand(_join, (manager, role, advertise_addr), {})


@operation()
def standalone():
    """
    Fail when a host whose data has no swarm role is in a swarm (leaving is left to a person:
    it drops the host's services).

    **Example:**

    .. code:: python

        swarm.standalone(name="standalone: not in a swarm")
    """
    state = factcache.get(host, SwarmState)
    if state["state"] != "inactive":
        report.drift(host, "swarm", "membership", "none", state["state"])
        raise OperationError(f"in a swarm (state {state['state']}) but data gives no swarm.role; "
                             "run `docker swarm leave` on it or give it a role")
    host.noop("not in a swarm")
    return
    yield  # a generator, like every operation
