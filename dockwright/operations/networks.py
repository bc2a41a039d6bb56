"""Docker networks: bridges reconciled field by field; overlays created from a swarm manager.

All networks of a host come from its one read (the Engine API's network list).
"""

import ipaddress
import json
import shlex
import time

from pyinfra import host
from pyinfra.api import FunctionCommand, operation

from .. import dockerd, facts, refusal, remote
from ..host_paths import NETWORK_JOURNALS
from ..schema import NETWORK_FIELDS
from ..plans.networks import network_plan, prune_plan


def create_command(name: str, driver: str, spec: dict) -> str:
    """`docker network create` for this spec, each field as schema.NETWORK_FIELDS says."""
    args = ["docker", "network", "create", "--driver", driver]
    for field, declared in NETWORK_FIELDS.items():
        if field in spec and driver in declared.drivers:
            args += declared.create(spec[field])
    args.append(name)
    return " ".join(shlex.quote(a) for a in args)


def _reconcile(name: str, driver: str, spec: dict, allow_disconnect: bool, concern: str):
    networks = facts.docker_networks().get(host)
    if isinstance(networks, dockerd.Down):
        yield from dockerd.unavailable(host, f"network {name}", networks)
        return
    current = networks.get(name)
    journal = facts.network_journals().get(host).get(name)
    decided = network_plan(name, driver, spec, current, allow_disconnect, journal)
    if not (yield from refusal.decided(host, concern, decided)):
        return
    conn = remote.connector_args(host)
    if decided.create:
        yield create_command(name, driver, spec)
    elif decided.recreate:
        # Through the journal even with no running container: stopped ones are attached too.
        host.log(f"network {name} differs ({decided.fields}): recreating")
        yield FunctionCommand(_recreate, (name, driver, spec, current_spec(current), decided.attached, conn,
                                          decided.reconnect), {})
        return
    if journal and not decided.reconnect:  # torn or empty: nothing to go on
        host.log(f"network {name}: its recreate journal holds no readable endpoint; removed")
        yield f"rm -f {shlex.quote(journal_path(name))}"
    elif decided.reconnect:
        host.log(f"network {name}: reconnecting {', '.join(sorted(decided.reconnect))} from the journal of "
                 f"a recreate that did not finish ({journal.get('at')})")
        yield FunctionCommand(_reconnect, (name, spec, decided.reconnect, conn), {})
    elif not decided.create:
        host.noop(f"network {name} matches")


def current_spec(current: dict) -> dict:
    return {k: current[k] for k in NETWORK_FIELDS if current.get(k) not in (None, {}, False)} | \
        ({"icc": False} if current.get("icc") is False else {})


def endpoint_configs(inspect_json: str, network: str) -> dict[str, dict]:
    """container name -> {"aliases": [...], "ipv4": str|None, "ipv6": str|None} on network,
    from `docker inspect` of the containers (user aliases and static addresses only)."""
    out = {}
    for c in json.loads(inspect_json or "[]"):
        name = c["Name"].lstrip("/")
        ep = ((c.get("NetworkSettings") or {}).get("Networks") or {}).get(network) or {}
        ipam = ep.get("IPAMConfig") or {}
        auto = {c["Id"][:12], name}  # Docker adds the short id (and name) on its own
        out[name] = {"aliases": [a for a in ep.get("Aliases") or [] if a not in auto],
                     "ipv4": ipam.get("IPv4Address") or None, "ipv6": ipam.get("IPv6Address") or None}
    return out


def attached_to(inspect_json: str, network: str) -> list[str]:
    """Names of the containers (any state) whose own settings put them on exactly this network."""
    return sorted(c["Name"].lstrip("/") for c in json.loads(inspect_json or "[]")
                  if network in ((c.get("NetworkSettings") or {}).get("Networks") or {}))


def connect_command(network: str, container: str, conf: dict, subnet: str | None, ipv6: bool = False) -> str:
    """Connects with the container's own aliases; a static address only where the network can
    hold it (inside its subnet; IPv6 only on a network with IPv6): else Docker assigns one."""
    args = ["docker", "network", "connect"]
    for alias in conf.get("aliases", []):
        args += ["--alias", alias]
    if conf.get("ipv4") and subnet and ipaddress.ip_address(conf["ipv4"]) in ipaddress.ip_network(subnet):
        args += ["--ip", conf["ipv4"]]
    if conf.get("ipv6") and ipv6:
        args += ["--ip6", conf["ipv6"]]
    return " ".join(shlex.quote(a) for a in [*args, network, container])


def journal_path(network: str) -> str:
    return f"{NETWORK_JOURNALS}/{network}.json"


def _sh(host, conn):
    return lambda cmd, stdin=None: remote.run(host, cmd, conn, stdin=stdin)


def _reconnect_all(host, sh, name: str, spec: dict, confs: dict, containers) -> bool:
    """Each container back on the network (one already there, or gone, is said and skipped);
    the journal is removed once every one is back."""
    done = True
    for c in sorted(containers):
        ok, out = sh(f"docker inspect --format '{{{{json .NetworkSettings.Networks}}}}' {shlex.quote(c)}")
        if not ok:
            host.log(f"network {name}: {c} no longer exists; not reconnected")
            continue
        if name in json.loads("\n".join(out.stdout_lines) or "{}"):
            continue
        conf = confs.get(c, {})
        if conf.get("ipv4") and spec.get("subnet") and \
                ipaddress.ip_address(conf["ipv4"]) not in ipaddress.ip_network(spec["subnet"]):
            host.log(f"network {name}: {c}'s static address {conf['ipv4']} is outside the new subnet; "
                     "reconnected with a dynamic address")
        ok, out = sh(connect_command(name, c, conf, spec.get("subnet"), bool(spec.get("ipv6"))))
        if not ok:
            host.log_styled(f"network {name}: reconnect {c} failed: {' '.join(out.stderr_lines)}", fg="red")
            done = False
    if done:
        sh(f"rm -f {shlex.quote(journal_path(name))}")
    return done


def _reconnect(state, host, name: str, spec: dict, endpoints: dict, conn: dict | None = None):
    """Finishes a recreate that did not: the journaled containers back on the network."""
    return _reconnect_all(host, _sh(host, conn), name, spec, endpoints, endpoints)


def _recreate(state, host, name: str, driver: str, spec: dict, old: dict, attached: list[str],
              conn: dict | None = None, pending: dict | None = None):
    """Disconnect, recreate, reconnect with each container's aliases and static addresses:
    the running containers the plan saw, the stopped ones configured for the network, and
    those a recreate that did not finish left in ``pending`` (its journal). Their settings are
    journaled on the host before the first disconnect, and the journal removed once every one is
    back: a run that dies in between is finished by the next. If the new network cannot be
    created, the old one is created again and the containers go back to it as they were."""
    sh = _sh(host, conn)
    # Every container, running or stopped, judged by its own NetworkSettings.Networks: Docker's
    # `--filter network=NAME` also matches networks whose ID starts with NAME.
    ok, out = sh("ids=$(docker ps -aq --no-trunc) && { [ -z \"$ids\" ] && echo '[]' || docker inspect $ids; }")
    if not ok:
        host.log_styled(f"network {name}: cannot list the containers attached to it", fg="red")
        return False
    everything = "\n".join(out.stdout_lines)
    members = sorted(set(attached) | set(attached_to(everything, name)))
    confs = dict(pending or {})
    confs.update({c: conf for c, conf in endpoint_configs(everything, name).items() if c in members})
    if confs:
        journal = json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "endpoints": confs},
                             sort_keys=True)
        path = shlex.quote(journal_path(name))
        ok, out = sh(f"install -d -m 0700 {NETWORK_JOURNALS} && umask 077 && cat > {path}.tmp && mv -fT {path}.tmp {path}",
                     stdin=journal)
        if not ok:
            host.log_styled(f"network {name}: cannot journal its endpoints ({' '.join(out.stderr_lines)}); "
                            "not recreated", fg="red")
            return False
    for c in members:
        ok, out = sh(f"docker network disconnect --force {shlex.quote(name)} {shlex.quote(c)}")
        if not ok:
            host.log_styled(f"network {name}: disconnect {c} failed: {' '.join(out.stderr_lines)}", fg="red")
            return False
    ok, out = sh(f"docker network rm {shlex.quote(name)}")
    created, used = False, old
    if ok:
        created, out = sh(create_command(name, driver, spec))
        used = spec if created else old
        if not created:
            host.log_styled(f"network {name}: create failed ({' '.join(out.stderr_lines)}); "
                            "restoring the previous network", fg="red")
            restored, out = sh(create_command(name, driver, old))
            if not restored:
                host.log_styled(f"network {name}: restore failed too: {' '.join(out.stderr_lines)}", fg="red")
                return False
    back = _reconnect_all(host, sh, name, used, confs, confs) if confs else True
    return created and back


@operation()
def bridge(network_name: str, spec: dict, allow_disconnect: bool = False):
    """
    A bridge network with exactly the declared fields.

    Missing: created. Differs: each differing field is reported; recreated when no container
    is attached, else the host fails listing them (unless ``allow_disconnect``: disconnect,
    recreate, reconnect).

    + network_name: network name
    + spec: ``subnet`` (required), ``gateway``, ``ip_range``, ``aux_addresses``, ``mtu``, ``icc``,
      ``internal``, ``ipv6``, ``labels``, ``bridge_name``
    + allow_disconnect: recreate even when containers are attached

    **Example:**

    .. code:: python

        networks.bridge(name="backend network", network_name="backend",
                        spec={"subnet": "10.5.0.0/16", "gateway": "10.5.0.1", "mtu": 1500})
    """
    yield from _reconcile(network_name, "bridge", spec, allow_disconnect, "networks")


@operation()
def overlay(network_name: str, spec: dict, allow_disconnect: bool = False):
    """
    A swarm overlay network (run it on one manager, e.g. with ``_run_once``).

    + network_name: network name
    + spec: ``subnet`` (required), ``gateway``, ``mtu``, ``encrypted``, ``attachable``, ``labels``
    + allow_disconnect: recreate even when local containers are attached

    **Example:**

    .. code:: python

        networks.overlay(name="secure overlay", network_name="secure-net",
                         spec={"subnet": "10.20.0.0/24", "encrypted": True, "attachable": True})
    """
    yield from _reconcile(network_name, "overlay", spec, allow_disconnect, "overlays")


@operation()
def prune(keep: list[str]):
    """
    Remove local networks not in ``keep`` that have no endpoint. Never touched: Docker's own
    networks, swarm-scoped networks (their users may be service tasks on other nodes), and
    anything in ``keep`` (pass every declared bridge and overlay). "In use" is the Engine's own
    endpoint list, whatever the containers are called.

    **Example:**

    .. code:: python

        networks.prune(name="prune undeclared networks", keep=["backend", "secure-net"])
    """
    networks = facts.docker_networks().get(host)
    if isinstance(networks, dockerd.Down):
        yield from dockerd.unavailable(host, "networks to prune", networks)
        return
    decided = prune_plan(keep, networks)
    if not (yield from refusal.decided(host, "networks", decided)):
        return
    for network_id in decided.remove:
        yield f"docker network rm {shlex.quote(network_id)}"
