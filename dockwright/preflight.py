"""Checks the whole fleet's desired state before the first remote change.

Runs once per pyinfra run, from the top of deploy.py (which pyinfra executes once per host while
it plans): schema and cross-key rules for every host in the inventory, then the checks that need
the host (kernel keys, dockerd's own validation, flags the service already sets) for every active
host. Any problem stops the run: no operation has been executed yet, so every host is as it was.
"""


import gevent.event
import gevent.pool

from pyinfra import logger
from pyinfra.api.exceptions import ConnectError
from pyinfra.context import inventory, state as pyinfra_state

from . import concerns, dockerd, facts, factcache, hostdata, liveness, model, run, schema
from .plans import swarm as swarm_plans
from . import outcomes


def host_side(h) -> list[schema.Problem]:
    """Problems only the host can reveal, from the concerns' plans (dockwright.concerns). The
    facts are read in one round trip, and cached for the operations. A host whose read fails has
    failed alone (pyinfra failed it): it has no problems to judge and the others go on."""
    view = concerns.view(h)
    try:
        factcache.prefetch(h, concerns.reads(view))
        return [schema.Problem(h.name, key, value, why) for key, value, why in concerns.problems(h, view)]
    except factcache.ReadFailed as e:
        logger.error(f"{h.print_prefix}left out of this run: {e.why} ({e.fact})")
        outcomes.fail(h, f"cannot read {e.fact}: {e.why}")
        return []


def refused(h) -> bool:
    """True when preflight found a concern's plan refusing h: the deploy changes nothing there."""
    return factcache.real(h).name in run.of(h).refused


def _refusals(hosts) -> None:
    """Each host's refusal, once the whole fleet's data is valid, from the plans the operations
    would make (the reads are those already made)."""
    found = run.current().refused
    for h in hosts:
        if failed(h):
            continue
        try:
            refusals = concerns.refusals(h, concerns.view(h))
        except factcache.ReadFailed:
            continue  # pyinfra has failed it
        if refusals:
            found[h.name] = refusals


def failed(h) -> bool:
    """True once pyinfra has failed h in this run (unreachable, silent, a failed read): the
    deploy adds nothing for it."""
    return factcache.real(h) in pyinfra_state.failed_hosts


def managers() -> list:
    return sorted((h for h in inventory if model.enabled(model.desired(h), "swarm")
                   and model.desired(h)["swarm"]["role"] == "manager"), key=lambda h: h.name)


def first_manager():
    """The first manager by name (the swarm's founder when no swarm exists yet)."""
    found = managers()
    return found[0] if found else None


def _swarm_states() -> dict:
    """SwarmState of every manager in the inventory, in name order: hosts outside --limit are
    asked too (connected for this); None for a manager that cannot be reached."""
    skipped = run.current().skipped  # in maintenance: never connected, and never asked

    def ask(h):
        if h.name in skipped:
            return None
        try:
            state = facts.swarm().get(h)
        except (ConnectError, factcache.ReadFailed):
            return None
        return None if isinstance(state, dockerd.Down) else state  # cannot say: never "no swarm"
    found = managers()
    return dict(zip(found, gevent.pool.Pool(pyinfra_state.config.PARALLEL or None).imap(ask, found)))


# One fleet check per run. pyinfra loads deploy.py for every host at once (greenlets), so the
# first host runs the check and the others wait for its outcome, whatever it is.
def check_fleet() -> None:
    """Raise InvalidDesiredState listing every problem on every host; once per run, and no
    host's deploy goes past this point before the check has finished."""
    _once("fleet", _check_fleet)


def check_data() -> None:
    """The data alone (no host is read): every host's merged state and the inventory's own
    data, once per run. For runs that change nothing (diagnose.py)."""
    _once("data", _check_data)


def data_problems(hosts) -> list[schema.Problem]:
    """What the data alone says is wrong before any host is read, beyond each host's merged
    state: the inventory's own data, names nothing reads, and the connection data."""
    problems = schema.validate_inventory_data(inventory.get_data())
    problems += hostdata.unknown_names([(h.name, layer, data) for h in hosts for layer, data in model.layers(h)])
    for h in hosts:
        problems += hostdata.connection_problems(h.name, h.data)
    for path in hostdata.unused_group_files(inventory):
        logger.warning(f"dockwright: {path}: no host of this inventory is in its group; its data is not used")
        run.current().warnings.append(f"{path}: no host of this inventory is in its group; its data is not used")
    return problems


def _check_data() -> None:
    hosts = sorted(inventory, key=lambda x: x.name)
    problems = data_problems(hosts)
    for h in hosts:
        problems += schema.validate(h.name, model.desired(h))
    for h in inventory.get_active_hosts():
        liveness.watch(h)  # a host that goes silent fails alone within a minute
    if problems:
        raise schema.InvalidDesiredState(problems)


def _once(name: str, check) -> None:
    """check() once per run: the first host runs it, the others wait for its outcome."""
    checks = run.current().checks
    if name in checks:
        error = checks[name].get()  # waits while the first host is still checking
        if error:
            raise error
        return
    checks[name] = outcome = gevent.event.AsyncResult()
    try:
        check()
    except Exception as e:
        outcome.set(e)
        raise
    outcome.set(None)


def _check_fleet() -> None:
    problems = data_problems(sorted(inventory, key=lambda x: x.name))
    desired = {h: model.desired(h) for h in inventory}
    for h in inventory.get_active_hosts():
        liveness.watch(h)  # from here on, a host that stops answering fails alone within a minute
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
    for found in pool.imap(host_side, valid):
        problems += found
    swarm_hosts = [h for h in desired if model.enabled(desired[h], "swarm") and desired[h]["swarm"]["role"]]
    if swarm_hosts and first_manager() is None:
        problems.append(schema.Problem(swarm_hosts[0].name, "swarm.role", desired[swarm_hosts[0]]["swarm"]["role"],
                                       "no host in the inventory is a swarm manager"))
    elif swarm_hosts and not problems and any(h in inventory.get_active_hosts() for h in swarm_hosts):
        chosen, why = swarm_plans.choose_leader(_swarm_states())
        run.current().leader = chosen
        problems += [schema.Problem(chosen.name if chosen else "-", "swarm.role", "manager", w) for w in why]
    if problems:
        raise schema.InvalidDesiredState(problems)
    _refusals(valid)
    logger.info(f"dockwright: desired state of {len(desired)} host(s) is valid")
