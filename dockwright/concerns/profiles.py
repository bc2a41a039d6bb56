"""The containers' profiles: the daemon's default seccomp profile (before daemon.json, which
points at it) and the AppArmor profile (judged by the host's own parser)."""

from .. import facts
from ..operations import apparmor, seccomp
from ..plans import apparmor as apparmor_plans, seccomp as seccomp_plans
from . import Concern, View, register


class Seccomp(Concern):
    name = "seccomp"
    drift_keys = ("seccomp",)

    def reads(self, v: View) -> list:
        return [facts.seccomp_file(v.desired["seccomp"]["name"])]

    @staticmethod
    def content(v: View) -> str:
        return v.once("seccomp", lambda: seccomp_plans.render(v.desired["seccomp"]))

    def problems(self, host, v: View) -> list:
        try:
            self.content(v)
        except seccomp_plans.SeccompProfileError as e:
            return [("seccomp", v.desired["seccomp"].get("name"), f"profile would be invalid: {e}")]
        return []

    def apply(self, v: View) -> None:
        seccomp.profile(name="seccomp: profile", profile_name=v.desired["seccomp"]["name"], content=self.content(v))


class AppArmor(Concern):
    name = "apparmor"
    drift_keys = ("apparmor",)

    def reads(self, v: View) -> list:
        return [facts.apparmor(v.desired["apparmor"]["name"])]

    @staticmethod
    def content(v: View) -> str:
        return v.once("apparmor", lambda: apparmor_plans.render(v.desired["apparmor"]))

    def problems(self, host, v: View) -> list:
        conf = v.desired["apparmor"]
        return apparmor.decision(host, conf["name"], self.content(v),
                                 source={k: conf[k] for k in ("name", "network_rules") if k in conf}).problems

    def apply(self, v: View) -> None:
        apparmor.profile(name="apparmor: container profile", profile_name=v.desired["apparmor"]["name"],
                         content=self.content(v))


register(Seccomp(), before="daemon")  # daemon.json points at it: it must exist before dockerd reads it
register(AppArmor())
