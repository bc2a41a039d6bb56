"""dockwright's deploy, packaged: each host into the state its data declares, then proven.

In a pyinfra repo of one's own, with one's own inventory and group_data/, a deploy file holds:

.. code:: python

    from dockwright import docker_host

    docker_host()

and runs as any deploy does: ``pyinfra inventory.py deploy.py``. The data is validated for every
host of the inventory before any change (a host with bad data stops the run, naming the host,
the key and the value); a host whose reads fail, or whose valid data must not be applied now,
fails alone while the others go on.

The concerns are applied in the order of their registry (dockwright.concerns): kernel (conntrack,
sysctl) -> docker engine -> seccomp profile (daemon.json points at it, so it goes first) ->
daemon.json (rolling restart with health gate) -> apparmor -> bridge networks, port policy,
prune -> swarm membership, overlay networks -> verification. Each concern can be switched off
per group or host with ``concerns = {"<concern>": False}``; verification for one run with
``--data verify='{"after_deploy": false}'``.
"""

from pyinfra import host
from pyinfra.api import OperationError, deploy

from . import concerns, preflight, refusal
from .run import DEPLOY


@deploy(DEPLOY)
def docker_host() -> None:
    """
    This host into the state its merged data declares (every enabled concern), then the
    verification of every host of the run.

    **Example:**

    .. code:: python

        from dockwright import docker_host
        docker_host()
    """
    preflight.check_fleet()  # stops the run, before any change, if any host's data is invalid
    # A host whose reads failed (unreachable, or silent for dockwright.liveness's bound) has been
    # failed by pyinfra on its own: nothing is planned for it, and every other host goes on.
    if preflight.failed(host):
        return
    try:
        if preflight.refused(host):
            concerns.stop()  # fails it alone: no concern's operation runs
            return
        concerns.apply(concerns.view(host))
    except OperationError as refused:  # raised while pyinfra plans (without -y): this host only
        refusal.planned(host, refused)
