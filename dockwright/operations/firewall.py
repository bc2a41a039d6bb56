"""Port policy for published container ports, in Docker's DOCKER-USER chain (AppArmor cannot
filter ports).

A rule says who may open new connections to a published port: ``allow_from`` (only these
sources) or ``deny_from`` (all but these). Rules match by the connection's *original*
destination port and only connections Docker DNATed (``--ctstate DNAT --ctdir ORIGINAL``), so
``-p 8080:80`` is filtered on 8080, container egress (not DNATed) and return traffic
(``RELATED,ESTABLISHED``, accepted first) are never touched. Each address family is written in
one ``iptables-restore --noflush`` transaction that replaces the chain's rules at once, live and
by a unit at boot and after every dockerd restart. What iptables prints back right after an
apply is kept, so later runs compare in iptables' own canonical form.
"""

import ipaddress
import shlex

from pyinfra import host
from pyinfra.api import operation

from .. import facts, files, refusal
from ..facts.firewall import FAMILIES, UNIT_NAME, applied_file, rules_file
from ..host_paths import PORT_POLICY_UNIT, RULES_DIR
from ..plans.firewall import backend_problem, families, host_firewall, plan


UNIT_TEXT = f"""# Managed by dockwright: the port policy, applied atomically after dockerd starts.
[Unit]
Description=dockwright port policy (DOCKER-USER)
After=docker.service
PartOf=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c '[ ! -f {RULES_DIR}/port-policy.ipv4.rules ] || iptables-restore --noflush {RULES_DIR}/port-policy.ipv4.rules'
ExecStart=/bin/sh -c '[ ! -f {RULES_DIR}/port-policy.ipv6.rules ] || ip6tables-restore --noflush {RULES_DIR}/port-policy.ipv6.rules'

[Install]
WantedBy=docker.service
"""


def _sources(cidrs: list[str], version: int) -> list[str]:
    """The canonical form of each network of this family. A scope ID (which may hold any
    character, newlines too) is refused here as well as in validation: it would end a rule."""
    nets = []
    for c in cidrs:
        if "%" in str(c):
            raise ValueError(f"{c!r}: IPv6 scope IDs are refused")
        net = ipaddress.ip_network(c, strict=False)
        if net.version == version:
            nets.append(str(net))
    return nets


def render(policy: list[dict], family: str) -> str:
    """The iptables-restore input of one family: the whole DOCKER-USER chain."""
    _, version = FAMILIES[family]
    lines = ["*filter", ":DOCKER-USER - [0:0]",
             "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"]
    for rule in policy:
        if rule.get("family", "both") not in ("both", family):
            continue
        port = str(rule["port"]).replace("-", ":")
        match = (f"-A DOCKER-USER {'-i ' + rule['in_interface'] + ' ' if rule.get('in_interface') else ''}"
                 f"-p {rule.get('proto', 'tcp')} -m conntrack --ctstate DNAT --ctdir ORIGINAL "
                 f"--ctorigdstport {port}")
        if "allow_from" in rule:
            lines += [f"{match} -s {src} -j RETURN" for src in _sources(rule["allow_from"], version)]
            lines.append(f"{match} -j DROP")
        else:
            lines += [f"{match} -s {src} -j DROP" for src in _sources(rule["deny_from"], version)]
    lines += ["-A DOCKER-USER -j RETURN", "COMMIT"]
    return "\n".join(lines) + "\n"


def taken_over_file(family: str) -> str:
    return f"{RULES_DIR}/port-policy.{family}.taken-over"


def keep_aside_command(family: str, live: str) -> str:
    """The chain as the run read it (before a dockerd restart earlier in the run re-applied the
    rules file through the unit), appended under a UTC timestamp, before a takeover replaces it.
    The host's own text is carried quoted."""
    return (f"install -d -m 0755 {RULES_DIR} && {{ date -u +'# %Y-%m-%dT%H:%M:%SZ'; printf '%s' {shlex.quote(live)}; }}"
            f" >> {taken_over_file(family)}")


def decide(policy: list[dict], daemon: dict, on_foreign: str, engine: dict, state: dict):
    """(why the policy cannot be kept here or None, family -> (rules file, text), the plan):
    the one decision preflight's refusal and the operation share."""
    effective = host_firewall(engine, daemon)
    if problem := backend_problem(effective, bool(policy)):
        return problem, {}, None
    wanted = {family: (rules_file(family), render(policy, family)) for family in families(effective)}
    return None, wanted, plan((PORT_POLICY_UNIT, UNIT_TEXT), wanted, bool(policy), state, on_foreign)


def apply_command(family: str) -> str:
    """One transaction, then the canonical readback kept for the next run's comparison."""
    tool, _ = FAMILIES[family]
    return (f"{tool}-restore --noflush {rules_file(family)} && "
            f"{tool} -S DOCKER-USER > {applied_file(family)}")


@operation()
def port_policy(policy: list[dict], daemon: dict, on_foreign: str = "fail"):
    """
    Keep the port policy for published ports in DOCKER-USER, for every address family Docker
    filters, now and after reboots and dockerd restarts.

    + policy: ``[{"port": 8080, "proto": "tcp", "allow_from": ["10.0.0.0/8"]}, ...]``; a rule
      has ``allow_from`` or ``deny_from`` (CIDR lists), and optionally ``in_interface`` and
      ``family`` (``ipv4``, ``ipv6``, ``both``)
    + daemon: daemon.json as rendered (passthrough included); with the unit's flags and the
      engine's defaults it says which families dockerd filters and whether there is a
      DOCKER-USER chain at all (``firewall-backend: nftables`` has none: refused)
    + on_foreign: live DOCKER-USER rules dockwright did not write (by hand, ufw-docker, another
      tool): ``fail`` (the host is refused, each rule named) or ``takeover`` (the chain as the
      run read it is appended to ``/etc/dockwright/port-policy.<family>.taken-over``, then
      replaced)

    **Example:**

    .. code:: python

        firewall.port_policy(name="port policy",
                             policy=[{"port": 8080, "allow_from": ["10.99.0.11/32"]}],
                             daemon={"iptables": True})
    """
    engine, state = facts.docker_engine().get(host), facts.port_policy().get(host)
    problem, wanted, decided = decide(policy, daemon, on_foreign, engine, state)
    if problem:  # preflight has said it already
        yield from refusal.refuse(host, f"networks.port_policy: {problem}")
        return
    if not (yield from refusal.decided(host, "firewall", decided)):  # foreign rules: preflight has said it too
        return
    if decided.nothing:
        host.noop("no port policy declared, none installed")
        return
    if decided.install_unit:
        files.show_diff(host, PORT_POLICY_UNIT, UNIT_TEXT)
        yield f"{files.write(PORT_POLICY_UNIT, UNIT_TEXT)} && systemctl daemon-reload && systemctl enable -q {UNIT_NAME}"
    for family, (path, text) in wanted.items():
        if family in decided.write:
            files.show_diff(host, path, text)
            yield files.write(path, text)
        if family in decided.takeover:
            yield keep_aside_command(family, state[family]["live"])
        if family in decided.write or family in decided.apply:
            yield apply_command(family)
    if not decided.items:
        host.noop("port policy in place")
