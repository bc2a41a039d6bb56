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
