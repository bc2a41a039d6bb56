"""dockwright: put Docker hosts into the state declared in group_data/, then prove it.

    pyinfra inventories/prod.py deploy.py

Order: validation -> kernel (conntrack, sysctl) -> docker engine -> seccomp profile (daemon.json
points at it, so it goes first) -> daemon.json (rolling restart) -> apparmor -> networks ->
swarm and overlays -> verification. Each concern can be switched off per group or host with
`concerns = {"<concern>": False}`.
"""

from pyinfra import host

from operations import apparmor, conntrack, docker, model, preflight, seccomp, sysctl

preflight.check_fleet()  # stops the run, before any change, if any host's data is invalid
desired = model.desired(host)

if model.enabled(desired, "conntrack"):
    facts = host.get_fact(conntrack.ConntrackState)
    _, buckets = conntrack.sizing(desired["conntrack"], facts["cores"], facts["mem_bytes"])
    conntrack.module(name="conntrack: module now and at boot, hash size", buckets=buckets)

if model.enabled(desired, "sysctl"):
    sysctl.managed(
        name="sysctl: owned file, live values, boot order",
        settings=preflight.managed_sysctls(host, desired),
        path=desired["sysctl"]["file"],
        on_override=desired["sysctl"]["on_override"],
    )

if model.enabled(desired, "docker"):
    docker.engine(name="docker: engine installed and running", package=desired["docker"]["package"])

if model.enabled(desired, "seccomp"):
    seccomp.profile(name="seccomp: profile", profile_name=desired["seccomp"]["name"],
                    content=seccomp.render(desired["seccomp"]))

if model.enabled(desired, "docker"):
    docker.daemon_config(
        name="docker: daemon.json (rolling restart with health gate)",
        content=docker.render(desired),
        health_timeout=desired["docker"]["health_timeout"],
        _parallel=desired["docker"]["restart_batch"],
    )

if model.enabled(desired, "apparmor"):
    apparmor.profile(name="apparmor: container profile", profile_name=desired["apparmor"]["name"],
                     content=apparmor.render(desired["apparmor"]))
