"""The container AppArmor profile: checked by the parser before install, loaded on change,
kept in /etc/apparmor.d so it loads at every boot."""

import shlex

from pyinfra import host
from pyinfra.api import FactBase, operation

from dockwright import factcache, files, refusal, templating
from dockwright.plans.profiles import apparmor_plan
from dockwright.plumbing import report

PROFILE_DIR = "/etc/apparmor.d"


def render(conf: dict) -> str:
    return templating.render("apparmor/container.j2", name=conf["name"],
                             deny_network=conf.get("deny_network", []),
                             network_rules=conf.get("network_rules", []))


class AppArmorState(FactBase):
    """
    Whether AppArmor is enabled, the profile file's sha256 and the profile's loaded mode.

    Returns ``{"enabled": bool, "parser": bool, "file_sha256": str|None, "loaded": mode|None,
    "foreign": str|None}``; ``foreign`` names what holds the profile's path when it is not a
    file dockwright wrote (a directory, another package's profile).
    """

    def command(self, profile_name: str):
        name = profile_name
        path = shlex.quote(f"{PROFILE_DIR}/{name}")
        return (
            "echo enabled $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null || echo N); "
            "command -v apparmor_parser >/dev/null && echo parser; "
            f"[ -f {path} ] && echo sha256 $(sha256sum {path} | cut -d' ' -f1); "
            f"if [ -L {path} ] || [ -e {path} ] && ! {{ [ -f {path} ] && head -n 1 {path} | grep -q '^# Managed by dockwright'; }}; "
            f"then echo foreign $(stat -c %F {path}); fi; "
            # Lines that start with "NAME (", as a fixed string: the name is never a regex.
            f"awk -v n={shlex.quote(name + ' (')} 'index($0, n) == 1 {{print \"loaded \" $0}}' "
            "/sys/kernel/security/apparmor/profiles 2>/dev/null; true"
        )

    def process(self, output):
        state = {"enabled": False, "parser": False, "file_sha256": None, "loaded": None, "foreign": None}
        for line in output:
            word, _, rest = line.partition(" ")
            if word == "enabled":
                state["enabled"] = rest.strip() == "Y"
            elif word == "parser":
                state["parser"] = True
            elif word == "sha256":
                state["file_sha256"] = rest.strip()
            elif word == "foreign":
                state["foreign"] = rest.strip() or "something"
            elif word == "loaded":
                state["loaded"] = rest.rsplit("(", 1)[-1].rstrip(")")
        return state


class ProfileCheck(FactBase):
    """``apparmor_parser -Q -K`` (parse only, load nothing) on a candidate profile.

    Returns ``{"ok": bool, "message": str}``."""

    def command(self, content: str):
        return ("f=$(mktemp); printf '%s' " + shlex.quote(content) + " > \"$f\"; "
                "if out=$(apparmor_parser -Q -K \"$f\" 2>&1); then echo ok; "
                "else echo rejected; printf '%s\\n' \"$out\"; fi; rm -f \"$f\"")

    def process(self, output):
        return {"ok": bool(output) and output[0] == "ok",
                "message": " ".join(x.strip() for x in output[1:])}


def decide(h, name: str, content: str, source=None):
    """The plan for this profile on h, with the parser's verdict when the file would change
    (the operation and preflight both ask here)."""
    path, state = f"{PROFILE_DIR}/{name}", factcache.get(h, AppArmorState, profile_name=name)
    decided = apparmor_plan(name, path, content, state, source=source)
    if decided.check:
        decided = apparmor_plan(name, path, content, state, factcache.get(h, ProfileCheck, content=content), source)
    return decided


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

        apparmor.profile(name="apparmor", profile_name="dockwright-default", content=apparmor.render(host.data.apparmor))
    """
    name, path = profile_name, f"{PROFILE_DIR}/{profile_name}"
    decided = decide(host, name, content)
    report.record(host, "apparmor", decided)
    if decided.error():
        yield from refusal.refuse(host, decided.error())
        return
    if decided.write:
        files.show_diff(host, path, content)
        yield files.write(path, content, backup=f"/var/backups/apparmor-{name}.dockwright-bak")
    if decided.load:
        yield f"apparmor_parser -r -W {shlex.quote(path)}"
