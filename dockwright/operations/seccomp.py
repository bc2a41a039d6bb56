"""The daemon's default seccomp profile, built from templates/seccomp/spec.yaml and the data
(dockwright.plans.seccomp), installed where daemon.json points at it."""

from pyinfra import host
from pyinfra.api import operation

from .. import facts, files
from ..plans.seccomp import path_for, seccomp_plan
from .. import outcomes


@operation()
def profile(profile_name: str, content: str):
    """
    Install a seccomp profile at /etc/docker/seccomp/<name>.json (root:root 0644).

    + profile_name: profile name
    + content: the profile JSON

    **Example:**

    .. code:: python

        from dockwright.plans import seccomp as seccomp_plans

        conf = model.desired(host)["seccomp"]
        seccomp.profile(name="seccomp", profile_name=conf["name"], content=seccomp_plans.render(conf))
    """
    path = path_for(profile_name)
    decided = seccomp_plan(path, content, facts.seccomp_file(profile_name).get(host))
    outcomes.record(host, "seccomp", decided)
    if not decided.write:
        host.noop(f"{path} is up to date")
        return
    files.show_diff(host, path, content)
    yield files.write(path, content)
