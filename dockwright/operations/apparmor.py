"""The container AppArmor profile: checked by the parser before install, loaded on change,
kept in /etc/apparmor.d so it loads at every boot."""

import shlex

from pyinfra import host
from pyinfra.api import operation

from .. import factcache, facts, files, refusal
from ..facts.profiles import ProfileCheck
from ..host_paths import APPARMOR_DIR
from ..plans.apparmor import decide


def decision(host, name: str, content: str, source=None):
    """The AppArmor plan for this profile on host, with the parser's verdict on the candidate
    (ProfileCheck) read only when the file would change: the operation and preflight both ask
    here. ``source``: the data the profile was rendered from, shown with a rejection."""
    return decide(name, f"{APPARMOR_DIR}/{name}", content, facts.apparmor(name).get(host),
                  lambda candidate: factcache.get(host, ProfileCheck, content=candidate), source)


@operation()
def profile(profile_name: str, content: str):
    """
    Install and load an AppArmor profile for containers.

    The candidate is parsed (``apparmor_parser -Q -K``) before it replaces the file; it is
    loaded with ``apparmor_parser -r -W`` only when the file changed or it is not loaded in
    enforce mode. A host without AppArmor fails with that reason.

    + profile_name: profile name, also the file name in /etc/apparmor.d
    + content: the profile text

    **Example:**

    .. code:: python

        from dockwright.plans import apparmor as apparmor_plans

        conf = model.desired(host)["apparmor"]
        apparmor.profile(name="apparmor", profile_name=conf["name"], content=apparmor_plans.render(conf))
    """
    name, path = profile_name, f"{APPARMOR_DIR}/{profile_name}"
    decided = decision(host, name, content)
    if not (yield from refusal.decided(host, "apparmor", decided)):
        return
    if decided.write:
        files.show_diff(host, path, content)
        yield files.write(path, content, backup=f"/var/backups/apparmor-{name}.dockwright-bak")
    if decided.load:
        yield f"apparmor_parser -r -W {shlex.quote(path)}"
