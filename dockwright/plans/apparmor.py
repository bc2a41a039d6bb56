"""The container AppArmor profile: rendered from the data, planned against the AppArmorState
fact, and judged by the host's own parser before it replaces the file."""

from dataclasses import dataclass

from .. import templating
from . import FilePlan, sha256


def render(conf: dict) -> str:
    return templating.render("apparmor/container.j2", name=conf["name"],
                             deny_network=conf.get("deny_network", []),
                             network_rules=conf.get("network_rules", []))


@dataclass
class AppArmorPlan(FilePlan):
    check: bool = False  # the parser must see the candidate before it replaces the file
    load: bool = False  # apparmor_parser -r: the file changed or it is not loaded in enforce mode


def apparmor_plan(name: str, path: str, content: str, state: dict, check: dict | None = None,
                  source=None) -> AppArmorPlan:
    """
    The profile against the AppArmorState fact. A changed file needs the parser's verdict on the
    candidate (the ProfileCheck fact): without ``check`` the plan asks for it (``check=True``)
    and is decided again with it. ``source``: the data the profile was rendered from, shown
    with a rejection (default: the name).
    """
    p = AppArmorPlan()
    if not state["enabled"] or not state["parser"]:
        p.problem("concerns.apparmor", True, "AppArmor is not enabled on this host (or apparmor_parser is "
                  "missing); switch the concern off for it")
        return p
    if state.get("foreign"):
        p.problem("apparmor.name", name, f"{path} is a {state['foreign']} that dockwright did not write "
                  "(another package's profile, or AppArmor's own); choose another name")
        return p
    if state["file_sha256"] is None and state["loaded"] is not None:
        # Loaded, but not from a file of ours: `apparmor_parser -r` would replace whatever
        # profile holds the name (Ubuntu's man_filter, say) with the container profile.
        p.problem("apparmor.name", name, f"a profile named {name} is loaded in the kernel ({state['loaded']} mode) "
                  f"and {path} is not a file dockwright wrote: it belongs to something else; choose another "
                  f"name (or, if it is a leftover of ours, unload it: apparmor_parser -R)")
        return p
    p.write = state["file_sha256"] != sha256(content)
    if p.write:
        p.differs(f"{path} sha256", sha256(content), state["file_sha256"])
    if state["loaded"] != "enforce":
        p.differs(f"{name} loaded mode", "enforce", state["loaded"])
    p.load = p.write or state["loaded"] != "enforce"
    if p.write and check is None:
        p.check = True
    elif p.write and not check["ok"]:
        p.problem("apparmor", name if source is None else source, f"apparmor_parser rejects the rendered profile: {check['message']}")
    return p


def decide(name: str, path: str, content: str, state: dict, parser, source=None) -> AppArmorPlan:
    """The plan, with the parser's verdict when the file would change: ``parser(content)`` reads
    it (the ProfileCheck fact) only then. The operation and preflight both decide here."""
    decided = apparmor_plan(name, path, content, state, source=source)
    if decided.check:
        decided = apparmor_plan(name, path, content, state, parser(content), source)
    return decided
