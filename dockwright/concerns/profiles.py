"""The containers' profiles: the daemon's default seccomp profile (before daemon.json, which
points at it) and the AppArmor profile (judged by the host's own parser)."""

from .. import facts
from ..operations import apparmor, seccomp
from ..plans import apparmor as apparmor_plans, seccomp as seccomp_plans
from . import Concern, View, register


class _Profile(Concern):
    """A profile file: its data section rendered once per view, the host's state read by the
    profile's name."""
    render = read = None  # the plan's render(section), the facts' read(profile name)

    def reads(self, v: View) -> list:
        return [self.read(v.desired[self.name]["name"])]

    def content(self, v: View) -> str:
        return v.once(self.name, lambda: self.render(v.desired[self.name]))


class Seccomp(_Profile):
    name = "seccomp"
    drift_keys = ("seccomp",)
    render, read = staticmethod(seccomp_plans.render), staticmethod(facts.seccomp_file)

    def problems(self, host, v: View) -> list:
        try:
            self.content(v)
        except seccomp_plans.SeccompProfileError as e:
            return [("seccomp", v.desired["seccomp"].get("name"), f"profile would be invalid: {e}")]
        return []

    def apply(self, v: View) -> None:
        seccomp.profile(name="seccomp: profile", profile_name=v.desired["seccomp"]["name"], content=self.content(v))


class AppArmor(_Profile):
    name = "apparmor"
    drift_keys = ("apparmor",)
    render, read = staticmethod(apparmor_plans.render), staticmethod(facts.apparmor)

    def problems(self, host, v: View) -> list:
        conf = v.desired["apparmor"]
        return apparmor.decision(host, conf["name"], self.content(v),
                                 source={k: conf[k] for k in ("name", "network_rules") if k in conf}).problems

    def apply(self, v: View) -> None:
        apparmor.profile(name="apparmor: container profile", profile_name=v.desired["apparmor"]["name"],
                         content=self.content(v))


register(Seccomp(), before="daemon")  # daemon.json points at it: it must exist before dockerd reads it
register(AppArmor())
