"""The kernel's concerns: connection tracking (nf_conntrack, its hash size) and the owned
sysctl file (the conntrack limits join it)."""

from .. import facts, model
from ..operations import conntrack, sysctl
from ..plans import sysctl as sysctl_plans
from . import Concern, View, register


class Conntrack(Concern):
    name = "conntrack"
    drift_keys = ("conntrack",)

    def reads(self, v: View) -> list:
        return [facts.conntrack()]

    def apply(self, v: View) -> None:
        conntrack.module(name="conntrack: module now and at boot, hash size", buckets=v.resolved.conntrack_buckets)


class Sysctl(Concern):
    name = "sysctl"
    drift_keys = ("sysctl",)

    @staticmethod
    def _read(v: View):
        return facts.sysctls(model.managed_sysctl_names(v.desired))

    def reads(self, v: View) -> list:
        return [self._read(v)]

    def _plan(self, host, v: View):
        conf = v.desired["sysctl"]
        return v.once("sysctl plan", lambda: sysctl_plans.plan(
            v.resolved.sysctls, conf["file"], conf["on_override"], self._read(v).get(host), late_ok=v.on("conntrack")))

    def problems(self, host, v: View) -> list:
        # Only a key of sysctl.settings can be missing: conntrack's are loaded by the run.
        return [(f"sysctl.settings.{key}", value, why) for key, value, why in self._plan(host, v).problems]

    def refusal(self, host, v: View):
        decided = self._plan(host, v)
        return ("sysctl", decided) if decided.refusal else None

    def apply(self, v: View) -> None:
        conf = v.desired["sysctl"]
        sysctl.managed(name="sysctl: owned file, live values, boot order", settings=v.resolved.sysctls,
                       path=conf["file"], on_override=conf["on_override"], late_ok=v.on("conntrack"))


register(Conntrack())
register(Sysctl())
