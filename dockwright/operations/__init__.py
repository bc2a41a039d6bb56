"""dockwright operations: one module per concern, each with its operations.

    sysctl     kernel parameters, live and at boot
    conntrack  nf_conntrack module, hash size and limits
    docker     engine package and daemon.json with a rolling, gated restart
    seccomp    the daemon's default seccomp profile
    apparmor   the container AppArmor profile
    networks   bridge networks
    firewall   the port policy for published ports (DOCKER-USER)
    swarm      swarm membership and encrypted overlay networks

Each operation reads its facts (dockwright/facts/: one class per read, each read declared once
with its arguments), asks its plan (dockwright/plans/: the decision, pure) and turns the plan
into commands. The desired state, its validation and the run context are in dockwright/.
"""

from pyinfra import host
from pyinfra.api import operation

from .. import outcomes, refusal, run


@operation()
def refused():
    """
    Fail this host alone, before any change on it: preflight found that a concern's plan
    refuses it (valid data that must not be applied to this host now). Each refusing plan's
    drift items are recorded, and the host fails with every plan's reason, as the concerns' own
    operations would fail it.

    **Example:**

    .. code:: python

        refused(name="refused before any change")
    """
    found = run.of(host).refused[host.name]
    for concern, plan in found:
        outcomes.record(host, concern, plan)
    yield from refusal.refuse(host, "; ".join(plan.error() for _, plan in found))
