"""dockwright's deploy, packaged: each host into the state its data declares, then proven.

In a pyinfra repo of one's own, with one's own inventory and group_data/, a deploy file holds:

.. code:: python

    from dockwright import docker_host

    docker_host()

and runs as any deploy does: ``pyinfra inventory.py deploy.py``. The data is validated for every
host of the inventory before any change (a host with bad data stops the run, naming the host,
the key and the value); a host whose reads fail, or whose valid data must not be applied now,
fails alone while the others go on.

Order: kernel (conntrack, sysctl) -> docker engine -> seccomp profile (daemon.json points at it,
so it goes first) -> daemon.json (rolling restart with health gate) -> apparmor -> bridge
networks -> port policy -> swarm membership -> overlay networks -> verification. Each concern
can be switched off per group or host with ``concerns = {"<concern>": False}``; verification for
one run with ``--data verify='{"after_deploy": false}'``.
"""

import json

from pyinfra import host
from pyinfra.api import OperationError, deploy

from . import DEPLOY, model, preflight, refusal
from .operations import apparmor, conntrack, docker, firewall, networks, seccomp, swarm, sysctl
from .plumbing import verification
from .plans import apparmor as apparmor_plans, docker as docker_plans, seccomp as seccomp_plans


def converge(desired: dict) -> None:
    """Every enabled concern's operations for this host, in the order above."""
    resolved = preflight.resolved(host, desired)  # conntrack's sizing and the sysctl file, from this host

    # ---- kernel
    if model.enabled(desired, "conntrack"):
        conntrack.module(name="conntrack: module now and at boot, hash size", buckets=resolved.conntrack_buckets)

    if model.enabled(desired, "sysctl"):
        sysctl.managed(
            name="sysctl: owned file, live values, boot order",
            settings=resolved.sysctls,
            path=desired["sysctl"]["file"],
            on_override=desired["sysctl"]["on_override"],
        )

    # ---- docker daemon (its seccomp default must exist before dockerd reads daemon.json)
    if model.enabled(desired, "docker"):
        docker.engine(name="docker: engine installed and running", package=desired["docker"]["package"])

    if model.enabled(desired, "seccomp"):
        seccomp.profile(name="seccomp: profile", profile_name=desired["seccomp"]["name"],
                        content=seccomp_plans.render(desired["seccomp"]))

    if model.enabled(desired, "docker"):
        docker.daemon_config(
            name="docker: daemon.json (rolling restart with health gate)",
            content=docker_plans.render(desired),
            health_timeout=desired["docker"]["health_timeout"],
            secret_keys=tuple(desired["docker"]["secret_keys"]),
            # Batches are enforced by dockwright (pyinfra's _parallel is one value per operation):
            # managers one at a time; hosts with the same restart_batch that many at a time.
            batch=desired["docker"]["restart_batch"],
            manager=model.enabled(desired, "swarm") and desired["swarm"]["role"] == "manager",
            allow_container_stop=desired["docker"]["allow_container_stop"],
            retry_failed=desired["docker"]["retry_failed"],
        )

    # ---- security profiles
    if model.enabled(desired, "apparmor"):
        apparmor.profile(name="apparmor: container profile", profile_name=desired["apparmor"]["name"],
                         content=apparmor_plans.render(desired["apparmor"]))

    # ---- networks
    if model.enabled(desired, "networks"):
        net = desired["networks"]
        for net_name, spec in sorted(net["bridges"].items()):
            networks.bridge(name=f"networks: bridge {net_name}", network_name=net_name, spec=spec,
                            allow_disconnect=net["allow_disconnect"])
        firewall.port_policy(name="firewall: port policy for published ports", policy=net["port_policy"],
                             daemon=json.loads(docker_plans.render(desired)))
        if net["prune"]:
            networks.prune(name="networks: prune undeclared", keep=sorted({*net["bridges"], *net["overlays"]}))

    # ---- swarm and overlays
    if model.enabled(desired, "swarm"):
        role = desired["swarm"]["role"]
        leader = preflight.leader()  # asks every manager in the inventory, not only this run's
        if role is None:
            swarm.standalone(name="swarm: standalone host stays out")
        elif host == leader:
            swarm.init(name="swarm: init on the first manager", advertise_addr=desired["swarm"]["advertise_addr"])
        # One call per role: pyinfra names an operation once per line of the deploy file, so a
        # shared line would show every worker as joining as a manager.
        elif role == "manager":
            swarm.join(name="swarm: join as manager", manager=leader, role="manager",
                       advertise_addr=desired["swarm"]["advertise_addr"])
        else:
            swarm.join(name="swarm: join as worker", manager=leader, role=role,
                       advertise_addr=desired["swarm"]["advertise_addr"])
        if host == leader and model.enabled(desired, "networks"):
            for net_name, spec in sorted(desired["networks"]["overlays"].items()):
                networks.overlay(name=f"overlays: {net_name}", network_name=net_name, spec=spec,
                                 allow_disconnect=desired["networks"]["allow_disconnect"])

    # ---- verification, once, for every host of this run
    # The suite gets this run's hosts with their connection data and merged data from pyinfra
    # itself (inventory file or inline hosts, --data included): it never has to guess.
    if model.enabled(desired, "verify") and desired["verify"]["after_deploy"]:
        verification.suite(name="verify: testinfra suite", _run_once=True)



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
        converge(model.desired(host))
    except OperationError as refused:  # raised while pyinfra plans (without -y): this host only
        refusal.planned(host, refused)
