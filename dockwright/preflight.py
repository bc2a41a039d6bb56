"""Checks the whole fleet's desired state before the first remote change.

Runs once per pyinfra run, from the top of deploy.py (which pyinfra executes once per host while
it plans): schema and cross-key rules for every host in the inventory, then the checks that need
the host (kernel keys, dockerd's own validation, flags the service already sets) for every active
host. Any problem stops the run: no operation has been executed yet, so every host is as it was.
"""

import hashlib
import ipaddress
import json
import weakref

import gevent.event
import gevent.pool

from pyinfra import logger
from pyinfra.api.exceptions import ConnectError
from pyinfra.context import inventory, state as pyinfra_state

from operations import apparmor, conntrack, docker, firewall, networks, seccomp, swarm, sysctl
from . import factcache, model, schema, secrets


def reads(desired: dict) -> list[tuple[type, dict]]:
    """Every fact a run asks a host for, with its arguments, for the concerns enabled there:
    preflight sends them all in one round trip (factcache.prefetch)."""
    on = lambda concern: model.enabled(desired, concern)  # noqa: E731
    wanted = [(conntrack.ConntrackState, {})] if on("conntrack") else []
    if on("sysctl"):
        wanted.append((sysctl.SysctlState, {"keys": model.managed_sysctl_names(desired)}))
    if on("docker") or (on("swarm") and desired["swarm"]["role"]):
        wanted.append((docker.DockerEngine, {}))
    if on("seccomp"):
        wanted.append((seccomp.Sha256File, {"path": seccomp.path_for(desired["seccomp"]["name"])}))
    if on("apparmor"):
        wanted.append((apparmor.AppArmorState, {"profile_name": desired["apparmor"]["name"]}))
    if on("networks"):
        wanted += [(networks.DockerNetworks, {}), (firewall.PortPolicy, {})]
        if schema.declared_networks(desired):
            wanted.append((networks.HostRoutes, {}))
    if on("swarm") or (on("docker") and desired["docker"]["daemon"].get("live-restore")):
        wanted.append((swarm.SwarmState, {}))
    return wanted


def host_side(h, desired: dict) -> list[schema.Problem]:
    """Problems only the host can reveal. Facts fetched here are cached for the operations:
    all of them in one round trip."""
    problems = []
    factcache.prefetch(h, reads(desired))

    def report(key, value, why):
        problems.append(schema.Problem(h.name, key, value, why))

    if model.enabled(desired, "sysctl"):
        settings = resolved(h, desired).sysctls
        facts = factcache.get(h, sysctl.SysctlState, keys=model.managed_sysctl_names(desired))
        for key, value in sorted(settings.items()):
            late = key.startswith(sysctl.LATE_KEYS) and model.enabled(desired, "conntrack")
            if not key.startswith("-") and key in facts["missing"] and not late:
                prefix = "sysctl.settings" if key in desired["sysctl"].get("settings", {}) else "conntrack"
                report(f"{prefix}.{key}", value, "the kernel has no such key (write -key if it may be missing)")
    if model.enabled(desired, "seccomp"):
        try:
            seccomp.build(desired["seccomp"])
        except seccomp.SeccompProfileError as e:
            report("seccomp", desired["seccomp"].get("name"), f"profile would be invalid: {e}")
    if model.enabled(desired, "apparmor"):
        conf = desired["apparmor"]
        aa = factcache.get(h, apparmor.AppArmorState, profile_name=conf["name"])
        if not aa["enabled"] or not aa["parser"]:
            report("concerns.apparmor", True, "AppArmor is not enabled on this host (or "
                   "apparmor_parser is missing); switch the concern off for it")
        else:
            content = apparmor.render(conf)
            if aa["file_sha256"] != hashlib.sha256(content.encode()).hexdigest():
                check = factcache.get(h, apparmor.ProfileCheck, content=content)
                if not check["ok"]:
                    report("apparmor", {k: conf[k] for k in ("name", "network_rules") if k in conf},
                           f"apparmor_parser rejects the rendered profile: {check['message']}")
    if model.enabled(desired, "networks"):
        for key, net in schema.declared_networks(desired):
            for dest, dev in factcache.get(h, networks.HostRoutes):
                route = ipaddress.ip_network(dest, strict=False)
                # The same subnet exactly is the route of that network's own bridge.
                if route != net and net.overlaps(route):
                    report(key, str(net), f"overlaps the host's route {dest} on {dev}")
    if model.enabled(desired, "swarm") and desired["swarm"]["role"]:
        sw = factcache.get(h, swarm.SwarmState)
        for mod in sw["modules_missing"]:
            report("swarm.role", desired["swarm"]["role"], f"kernel module {mod} (encrypted overlays) is missing")
        problem = swarm.engine_problem(factcache.get(h, docker.DockerEngine)["version"])
        if problem:
            report("swarm.role", desired["swarm"]["role"], problem)
    if model.enabled(desired, "docker"):
        content = docker.render(desired)
        engine = factcache.get(h, docker.DockerEngine)
        secret_keys = tuple(desired["docker"].get("secret_keys", ()))
        for key, why in docker.host_problems(content, engine, docker.swarm_state_if_needed(h, content)):
            value = json_value(content, key)
            report(f"docker.daemon.{key}", secrets.mask(value) if secrets.is_secret(key, secret_keys) else value, why)
        # dockerd --validate starts the daemon binary (slow): only for a file that would change.
        # Secrets are replaced by placeholders: the check needs the shape, not the credential.
        if engine["daemon_json"] != content:
            shown = json.dumps(secrets.redact(json.loads(content), secret_keys), indent=2, sort_keys=True) + "\n"
            check = factcache.get(h, docker.DaemonConfigCheck, content=shown)
            if not check["ok"]:
                report("docker.daemon", "(rendered daemon.json)", f"dockerd --validate: {check['message']}")
    return problems


def json_value(content: str, key: str):
    return json.loads(content).get(key)


def resolved(h, desired: dict) -> "model.Resolved":
    """h's host-derived values (conntrack's sizing, the owned sysctl file's keys) from its facts."""
    facts = factcache.get(h, conntrack.ConntrackState) if model.enabled(desired, "conntrack") else None
    return model.resolve(desired, facts)


def managers() -> list:
    return sorted((h for h in inventory if model.enabled(model.desired(h), "swarm")
                   and model.desired(h)["swarm"]["role"] == "manager"), key=lambda h: h.name)


def first_manager():
    """The first manager by name (the swarm's founder when no swarm exists yet)."""
    found = managers()
    return found[0] if found else None


# The swarm leader of each run (keyed weakly by the run's state), decided once in check_fleet.
_LEADERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def choose_leader(states: dict) -> tuple[object | None, list[str]]:
    """(leader, problems) from {manager host: SwarmState or None when unreachable}, managers
    in name order. The leader is the first manager already managing a swarm, so that a
    --limit run with a new manager that sorts first joins it instead of founding a second one;
    with no swarm anywhere, the first manager by name founds it."""
    active = [(h, st) for h, st in states.items() if st and st["state"] == "active" and st["manager"]]
    clusters = {st["cluster_id"] for _, st in active if st["cluster_id"]}
    problems = []
    if len(clusters) > 1:
        problems.append("managers lead different swarms: " + ", ".join(
            f"{h.name} ({st['cluster_id'][:12]})" for h, st in active))
    if active:
        return active[0][0], problems
    unreachable = [h.name for h, st in states.items() if st is None]
    if unreachable:
        problems.append(f"cannot reach manager(s) {', '.join(unreachable)} to learn whether a swarm "
                        "exists; dockwright will not found one that could be a second swarm")
    return (next(iter(states), None), problems)


def leader():
    """The manager that leads (or founds) the swarm of this inventory."""
    return _LEADERS.get(pyinfra_state._get_module())


def _swarm_states() -> dict:
    """SwarmState of every manager in the inventory, in name order: hosts outside --limit are
    asked too (connected for this); None for a manager that cannot be reached."""
    def ask(h):
        try:
            return factcache.get(h, swarm.SwarmState)
        except ConnectError:
            return None
    found = managers()
    return dict(zip(found, gevent.pool.Pool(pyinfra_state.config.PARALLEL or None).imap(ask, found)))


# One fleet check per run. pyinfra loads deploy.py for every host at once (greenlets), so the
# first host runs the check and the others wait for its outcome, whatever it is.
_CHECKS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def check_fleet() -> None:
    """Raise InvalidDesiredState listing every problem on every host; once per run, and no
    host's deploy goes past this point before the check has finished."""
    run = pyinfra_state._get_module()
    if run in _CHECKS:
        error = _CHECKS[run].get()  # waits while the first host is still checking
        if error:
            raise error
        return
    _CHECKS[run] = gevent.event.AsyncResult()
    try:
        _check_fleet()
    except Exception as e:
        _CHECKS[run].set(e)
        raise
    _CHECKS[run].set(None)


def _check_fleet() -> None:
    problems: list[schema.Problem] = []
    desired = {h: model.desired(h) for h in inventory}
    valid = []
    for h in sorted(desired, key=lambda x: x.name):
        found = schema.validate(h.name, desired[h])
        problems += found
        # Host-side checks need well-typed data; hosts left out by --limit are not connected.
        if not found and h in inventory.get_active_hosts():
            valid.append(h)
    # Every host's reads at once (as pyinfra runs hosts), not one host after another: on a
    # large fleet the round trips, not the checks, are the cost. Problems stay in name order.
    pool = gevent.pool.Pool(pyinfra_state.config.PARALLEL or None)
    for found in pool.imap(lambda h: host_side(h, desired[h]), valid):
        problems += found
    swarm_hosts = [h for h in desired if model.enabled(desired[h], "swarm") and desired[h]["swarm"]["role"]]
    if swarm_hosts and first_manager() is None:
        problems.append(schema.Problem(swarm_hosts[0].name, "swarm.role", desired[swarm_hosts[0]]["swarm"]["role"],
                                       "no host in the inventory is a swarm manager"))
    elif swarm_hosts and not problems and any(h in inventory.get_active_hosts() for h in swarm_hosts):
        chosen, why = choose_leader(_swarm_states())
        _LEADERS[pyinfra_state._get_module()] = chosen
        problems += [schema.Problem(chosen.name if chosen else "-", "swarm.role", "manager", w) for w in why]
    if problems:
        raise schema.InvalidDesiredState(problems)
    logger.info(f"dockwright: desired state of {len(desired)} host(s) is valid")
