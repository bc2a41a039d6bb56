"""The port policy's plan: the boot unit, each family's rules file and its live chain."""

from dataclasses import dataclass, field

from . import Plan, sha256


@dataclass
class FirewallPlan(Plan):
    install_unit: bool = False
    write: list = field(default_factory=list)  # families whose rules file is rewritten (then applied)
    apply: list = field(default_factory=list)  # families applied again from the file they have
    nothing: bool = False  # no policy declared and none installed


def plan(unit: tuple[str, str], wanted: dict[str, tuple[str, str]], declared: bool, state: dict) -> FirewallPlan:
    """
    unit: (path, text) of the boot unit; wanted: family -> (path, text) of the rules file it
    must hold, for the families Docker filters; declared: whether the data has any rule. Against the PortPolicy
    fact: a live chain that is not what iptables printed after our last apply is applied again.
    """
    p = FirewallPlan()
    if not declared and state["unit"] is None and not any(state[f]["file"] for f in ("ipv4", "ipv6")):
        p.nothing = True
        return p
    path, text = unit
    p.install_unit = not (state["unit"] == sha256(text) and state["enabled"])
    if p.install_unit:
        p.differs(path, "installed and enabled", state["unit"] and "differs")
    for family, (rules, want) in wanted.items():
        have = state[family]
        if have["file"] != want:
            p.write.append(family)
            p.differs(rules, want.splitlines(), (have["file"] or "").splitlines())
        elif have["live"] != have["applied"]:
            p.apply.append(family)
            p.differs(f"DOCKER-USER ({family}, live)", (have["applied"] or "").splitlines(),
                      (have["live"] or "").splitlines())
    return p
