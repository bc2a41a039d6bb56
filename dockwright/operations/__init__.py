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

from .. import refusal, run


@operation()
def refused():
    """
    Fail this host alone, before any change on it: preflight found that a concern's plan
    refuses it (valid data that must not be applied to this host now). The plan's drift items
    are recorded, and the host fails with the plan's reason, as the concern's own operation
    would fail it.

    **Example:**

    .. code:: python

        refused(name="refused before any change")
    """
    concern, plan = run.of(host).refused[host.name]
    yield from refusal.decided(host, concern, plan)
