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

    def problems(self, host, v: View) -> list:
        try:
            v.once("seccomp", lambda: seccomp_plans.render(v.desired["seccomp"]))
        except seccomp_plans.SeccompProfileError as e:
            return [("seccomp", v.desired["seccomp"].get("name"), f"profile would be invalid: {e}")]
        return []

    def apply(self, v: View) -> None:
        conf = v.desired["seccomp"]
        seccomp.profile(name="seccomp: profile", profile_name=conf["name"],
                        content=v.once("seccomp", lambda: seccomp_plans.render(conf)))


class AppArmor(Concern):
    name = "apparmor"
    drift_keys = ("apparmor",)

    def reads(self, v: View) -> list:
        return [facts.apparmor(v.desired["apparmor"]["name"])]

    def problems(self, host, v: View) -> list:
        conf = v.desired["apparmor"]
        return apparmor.decision(host, conf["name"], v.once("apparmor", lambda: apparmor_plans.render(conf)),
                                 source={k: conf[k] for k in ("name", "network_rules") if k in conf}).problems

    def apply(self, v: View) -> None:
        conf = v.desired["apparmor"]
        apparmor.profile(name="apparmor: container profile", profile_name=conf["name"],
                         content=v.once("apparmor", lambda: apparmor_plans.render(conf)))


register(Seccomp(), before="daemon")  # daemon.json points at it: it must exist before dockerd reads it
register(AppArmor())
