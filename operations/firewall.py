"""Port policy for containers in Docker's DOCKER-USER chain (AppArmor cannot filter ports).

Rules come from data, are applied live in one command and kept for boot by a small unit that
re-applies them whenever docker.service starts (Docker keeps the chain but not its rules
across a reboot)."""

import hashlib
import ipaddress
import shlex

from pyinfra import host
from pyinfra.api import FactBase, operation

from . import factcache, report

RULES_FILE = "/etc/dockwright/docker-user.rules"
UNIT = "/etc/systemd/system/dockwright-docker-user.service"
UNIT_TEXT = f"""# Managed by dockwright: re-applies the DOCKER-USER rules after dockerd starts.
[Unit]
Description=dockwright DOCKER-USER port policy
After=docker.service
PartOf=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'iptables -N DOCKER-USER 2>/dev/null; iptables -F DOCKER-USER; \\
  while read -r rule; do [ -n "$rule" ] && iptables -A DOCKER-USER $rule; done < {RULES_FILE}; \\
  iptables -A DOCKER-USER -j RETURN'

[Install]
WantedBy=docker.service
"""


def render_rule(rule: dict) -> str:
    """One rule in the form `iptables -S` prints it (so live rules compare as text)."""
    parts = []
    if rule.get("source"):
        parts += ["-s", str(ipaddress.ip_network(rule["source"], strict=False))]
    if rule.get("in_interface"):
        parts += ["-i", rule["in_interface"]]
    parts += ["-p", rule["proto"], "-m", rule["proto"], "--dport", str(rule["dport"])]
    parts += ["-j", rule["action"]]
    return " ".join(parts)


class DockerUserChain(FactBase):
    """
    The DOCKER-USER rules (without the final RETURN), the rules file and whether the unit is
    installed and enabled.

    Returns ``{"live": [rule], "file": str|None, "unit": str|None, "enabled": bool}``.
    """

    def command(self):
        return (f"iptables -S DOCKER-USER 2>/dev/null | sed -n 's/^-A DOCKER-USER /live /p'; "
                f"[ -f {RULES_FILE} ] && sed 's/^/file /' {RULES_FILE}; "
                f"[ -f {UNIT} ] && echo unit $(sha256sum {UNIT} | cut -d' ' -f1); "
                "systemctl is-enabled -q dockwright-docker-user.service 2>/dev/null && echo enabled; true")

    def process(self, output):
        state = {"live": [], "file": None, "unit": None, "enabled": False}
        for line in output:
            word, _, rest = line.partition(" ")
            if word == "live" and rest != "-j RETURN":
                state["live"].append(rest)
            elif word == "file":
                state["file"] = (state["file"] or "") + rest + "\n"
            elif word == "unit":
                state["unit"] = rest
            elif word == "enabled":
                state["enabled"] = True
        return state


@operation()
def docker_user(rules: list[dict]):
    """
    Keep exactly ``rules`` (then RETURN) in the DOCKER-USER chain, now and after reboots.

    + rules: ``[{"proto": "tcp", "dport": 8080, "source": "10.0.0.0/8", "action": "DROP"}]``

    **Example:**

    .. code:: python

        firewall.docker_user(name="port policy",
                             rules=[{"proto": "tcp", "dport": 2375, "action": "DROP"}])
    """
    state = factcache.get(host, DockerUserChain)
    want = [render_rule(r) for r in rules]
    file_text = "".join(f"{r}\n" for r in want)
    steps = []
    if state["unit"] != hashlib.sha256(UNIT_TEXT.encode()).hexdigest() or state["file"] != file_text \
            or not state["enabled"]:
        report.drift(host, "firewall", RULES_FILE, want, (state["file"] or "").splitlines())
        steps.append(f"install -d -m 0755 /etc/dockwright && printf '%s' {shlex.quote(file_text)} > {RULES_FILE}"
                     f" && printf '%s' {shlex.quote(UNIT_TEXT)} > {UNIT} && systemctl daemon-reload"
                     " && systemctl enable -q dockwright-docker-user.service")
    if state["live"] != want:
        report.drift(host, "firewall", "DOCKER-USER (live)", want, state["live"])
        steps.append("systemctl restart dockwright-docker-user.service")
    yield from steps
