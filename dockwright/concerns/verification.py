"""The verification suite (dockwright/verify), once, at the end of a deploy, for every host of the
run: it judges the hosts with its own reads, not with the deploy's code."""

from ..verify import handoff
from . import Concern, View, register


class Verification(Concern):
    name = "verify"

    def wanted(self, v: View) -> bool:
        return v.on("verify") and v.desired["verify"]["after_deploy"]

    def apply(self, v: View) -> None:
        # The suite gets this run's hosts with their connection data and merged data from pyinfra
        # itself (inventory file or inline hosts, --data included): it never has to guess.
        handoff.suite(name="verify: testinfra suite", _run_once=True)


register(Verification())
