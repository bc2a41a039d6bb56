"""The port policy's plan: the boot unit, each family's rules file and its live chain, for the
address families dockerd will filter as it runs (daemon.json as written, the unit's flags, the
engine's defaults), never as one section of the data says."""

import shlex
from dataclasses import dataclass, field

from . import Plan, sha256


@dataclass
class FirewallPlan(Plan):
    install_unit: bool = False
    write: list = field(default_factory=list)  # families whose rules file is rewritten (then applied)
    apply: list = field(default_factory=list)  # families applied again from the file they have
    nothing: bool = False  # no policy declared and none installed
    takeover: list = field(default_factory=list)  # families whose foreign rules are kept aside, then replaced


IP6TABLES_DEFAULT_SINCE = (27, 0, 0)  # Engine 27 turned ip6tables on by default


# dockerd's flags that take a value (pflag: `--name value` or `--name=value`); its boolean
# flags take none (`--name` alone is true, only `--name=false` turns one off).
VALUE_FLAGS = frozenset({"firewall-backend"})


def _flag(flags: list[str], name: str):
    """The last value of a flag on a dockerd command line, as dockerd's flag parser reads it:
    ``--name=V``, ``--name V`` for a flag that takes a value, ``--name`` alone (True) for a
    boolean one; repeated flags: the last wins."""
    value = None
    words = iter(flags)
    for word in words:
        if word == f"--{name}":
            value = next(words, None) if name in VALUE_FLAGS else True
        elif word.startswith(f"--{name}="):
            value = word.split("=", 1)[1]
    return value


def _bool(value) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def engine_firewall(daemon_json: dict, flags: str, version: tuple | None) -> dict:
    """{"iptables", "ip6tables", "firewall-backend"} as dockerd will run them: the unit's
    flags (ExecStart and DOCKER_OPTS), else daemon.json as rendered (passthrough included),
    else the engine's defaults."""
    words = shlex.split(flags or "", posix=True) if flags else []
    out = {"iptables": True, "ip6tables": bool(version and tuple(version) >= IP6TABLES_DEFAULT_SINCE),
           "firewall-backend": "iptables"}
    for key in out:
        if key in daemon_json:
            out[key] = daemon_json[key]
        flag = _flag(words, key)
        if flag is not None:
            out[key] = flag if key == "firewall-backend" else _bool(flag)
    return out


def host_firewall(engine: dict, daemon_json: dict) -> dict:
    """engine_firewall for a host, from its DockerEngine fact (the unit's flags, the version)."""
    return engine_firewall(daemon_json, f"{engine['exec_start']} {engine['docker_opts']}", engine["version"])


def families(effective: dict) -> list[str]:
    """The families Docker filters: IPv4 whenever its iptables support is on, IPv6 too when
    ip6tables is on."""
    if effective.get("iptables", True) is False:
        return []
    return ["ipv4", "ipv6"] if effective.get("ip6tables") else ["ipv4"]


def backend_problem(effective: dict, declared: bool) -> str | None:
    """Why a declared port policy cannot be kept on this host (no DOCKER-USER chain), or None.
    The one rule: preflight asks it of every host before any change, the operation again."""
    if declared and effective.get("firewall-backend") == "nftables":
        return ("dockerd runs the nftables firewall backend (daemon.json or the unit's flags): there is "
                "no DOCKER-USER chain (filter published ports in your own nftables table instead)")
    if declared and effective.get("iptables") is False:
        return "dockerd runs with iptables off: Docker keeps no DOCKER-USER chain to filter in"
    return None


# What dockerd itself puts in DOCKER-USER (engines before 28 add it; later ones leave it empty).
DOCKER_OWN_RULE = "-A DOCKER-USER -j RETURN"


def foreign_rules(have: dict) -> list[str]:
    """The live rules of one family's DOCKER-USER that are neither dockerd's own nor dockwright's
    (as iptables printed them after its last apply, or as its rules file writes them): a
    hand-made rule, ufw-docker's, another tool's. Applying the policy would remove them."""
    ours = {DOCKER_OWN_RULE, *(have["applied"] or "").splitlines(), *(have["file"] or "").splitlines()}
    return [rule for rule in (have["live"] or "").splitlines() if rule.startswith("-A ") and rule not in ours]


def plan(unit: tuple[str, str], wanted: dict[str, tuple[str, str]], declared: bool, state: dict,
         on_foreign: str = "fail") -> FirewallPlan:
    """
    unit: (path, text) of the boot unit; wanted: family -> (path, text) of the rules file it
    must hold, for the families Docker filters; declared: whether the data has any rule. Against the PortPolicy
    fact: a live chain that is not what iptables printed after our last apply is applied again.
    A live rule that is not dockwright's (foreign_rules) is a refusal with ``on_foreign`` "fail";
    with "takeover" the chain as it is is kept aside on the host, then replaced.
    """
    p = FirewallPlan()
    if not declared and state["unit"] is None and not any(state[f]["file"] for f in ("ipv4", "ipv6")):
        p.nothing = True
        return p
    path, text = unit
    p.install_unit = not (state["unit"] == sha256(text) and state["enabled"])
    if p.install_unit:
        p.differs(path, "installed and enabled", state["unit"] and "differs")
    foreign = {family: found for family in wanted if (found := foreign_rules(state[family]))}
    if foreign and on_foreign == "fail":
        p.refusal = ("DOCKER-USER holds rules dockwright did not write, which the port policy would remove: " +
                     "; ".join(f"{family}: {rule!r}" for family, rules in foreign.items() for rule in rules) +
                     " (remove them, or set networks.on_foreign_rules to \"takeover\": the chain is "
                     "kept aside on the host first)")
    for family, rules in foreign.items():
        p.takeover.append(family)
        p.differs(f"DOCKER-USER ({family}): rules not dockwright's", None, rules)
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
