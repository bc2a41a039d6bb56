"""The port policy's side: the live DOCKER-USER rules, the rules files and the boot unit."""

from pyinfra.api import FactBase

from .. import host_paths, host_reader, remote




FAMILIES = {"ipv4": ("iptables", 4), "ipv6": ("ip6tables", 6)}




UNIT_NAME = "dockwright-port-policy.service"


# What `systemctl enable` makes for the unit (its [Install] says WantedBy=docker.service): the
# shell tests it, as a systemctl process would cost more than the rest of this read.
WANTS_LINK = f"{host_paths.SYSTEMD_DIR}/docker.service.wants/{UNIT_NAME}"


def rules_file(family: str) -> str:
    return f"{host_paths.RULES_DIR}/port-policy.{family}.rules"


def applied_file(family: str) -> str:
    return f"{host_paths.RULES_DIR}/port-policy.{family}.applied"


class PortPolicy(host_reader.PythonPart, FactBase):
    """
    Per family: the live DOCKER-USER rules (``iptables -S``), the rules file and what
    iptables printed right after the last apply; and the unit's hash and whether it is enabled.

    Returns ``{"ipv4": {"live", "file", "applied"}, "ipv6": {...}, "unit": str|None,
    "enabled": bool}``; each value a text or None.
    """

    def command(self):
        return f"{self.fallback()}; {self.rest()}"

    def fallback(self):
        return f"echo @@unit; {remote.sha256_line(host_paths.PORT_POLICY_UNIT)}; true"

    # In the host-state read the unit's hash is the host reader's (dockwright.host_reader).
    def ops(self):
        return [f"sha256:{host_paths.PORT_POLICY_UNIT}"]

    def lines(self, answers):
        return ["@@unit", *answers[0]] if host_reader.answered(answers) else None

    def rest(self):
        parts = []
        for family, (tool, _) in FAMILIES.items():
            parts.append(f"echo @@{family}.live; {tool} -S DOCKER-USER 2>/dev/null")
            parts.append(f"echo @@{family}.file; {remote.show_file(rules_file(family))}")
            parts.append(f"echo @@{family}.applied; {remote.show_file(applied_file(family))}")
        parts.append(f"echo @@enabled; [ -L {WANTS_LINK} ] && echo enabled; true")
        return "; ".join(parts)

    def process(self, output):
        sections = remote.sections(output)

        def text(name):
            lines = sections.get(name) or []
            return "\n".join(lines) + "\n" if lines else None

        state = {f: {k: text(f"{f}.{k}") for k in ("live", "file", "applied")} for f in FAMILIES}
        state["unit"] = remote.hash_of((sections.get("unit") or [None])[0])
        state["enabled"] = (sections.get("enabled") or [""])[0].strip() == "enabled"
        return state
