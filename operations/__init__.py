"""dockwright operations: one module per concern, each with its facts and operations.

    model      merged desired state of a host (group_data + host data)
    schema     typed validation of that state
    preflight  fleet-wide checks before the first remote change
    sysctl     kernel parameters, live and at boot
    conntrack  nf_conntrack module, hash size and limits
    docker     engine package and daemon.json with a rolling, gated restart
    seccomp    the daemon's default seccomp profile
    apparmor   the container AppArmor profile
    networks   bridge networks
    swarm      swarm membership and encrypted overlay networks
"""
