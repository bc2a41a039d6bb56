"""The one read a diagnosis makes of a host: everything the findings judge, in one round trip."""

import json
import re

from pyinfra.api import FactBase

from .. import dockerd

MARK = "@@dw-diag"
# /proc/sys paths read on the host; the per-namespace ones are read inside each container too.
HOST_SYSCTLS = ("net/netfilter/nf_conntrack_count", "net/netfilter/nf_conntrack_max",
                "net/netfilter/nf_conntrack_buckets", "net/ipv4/ip_forward",
                "net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables",
                "net/core/somaxconn", "net/ipv4/tcp_max_syn_backlog")
NETNS_SYSCTLS = ("net/core/somaxconn", "net/ipv4/tcp_max_syn_backlog")
# The TCP counters kept (of /proc/net/snmp's Tcp: and /proc/net/netstat's TcpExt:).
TCP_COUNTERS = ("ListenOverflows", "ListenDrops", "RetransSegs", "OutSegs", "TCPSynRetrans")
# Docker's network options (the Engine's names).
MTU_OPT, BRIDGE_OPT = "com.docker.network.driver.mtu", "com.docker.network.bridge.name"
# What each running container is: id, PID 1 on the host, the kind of its network mode, name,
# its published ports (``ports=``, then ``PORT/PROTO@HOST_IP@HOST_PORT,`` for each binding), the
# IDs of its networks. Network names are never printed here: Docker accepts nearly any name
# (spaces, newlines, the frame's mark), so a container's networks travel as IDs and are named
# from the networks' own JSON; a user network mode is printed as "own", a shared one as
# "container:". Container names are restricted by Docker to [a-zA-Z0-9][a-zA-Z0-9_.-]+.
CONTAINER_FORMAT = ("{{.Id}} {{.State.Pid}} {{$m := .HostConfig.NetworkMode}}"
                    "{{if eq $m \"host\" \"none\"}}{{$m}}{{else if eq (printf \"%.10s\" $m) \"container:\"}}container:"
                    "{{else}}own{{end}} {{.Name}} "
                    "ports={{range $p, $b := .NetworkSettings.Ports}}{{range $b}}{{$p}}@{{.HostIp}}@{{.HostPort}},{{end}}{{end}} "
                    "{{range $k, $v := .NetworkSettings.Networks}}{{$v.NetworkID}},{{end}}")
_CONTAINER_NAME = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]*")
_PUBLISHED = re.compile(r"([0-9]+)/(tcp|udp|sctp)@([0-9A-Fa-f.:]*)@([0-9]+)")
# ufw's first chain holds rules while ufw is enabled (``ufw disable`` empties its chains and
# leaves INPUT's jumps to them).
UFW_RULE = "-A ufw-before-input "
WILDCARDS = ("", "0.0.0.0", "::")  # a binding on every address


def _sysctls(paths: tuple[str, ...]) -> str:
    return ("for k in " + " ".join(paths) + "; do "
            "printf '%s %s\\n' \"$k\" \"$(cat /proc/sys/$k 2>/dev/null || echo -)\"; done")


def _section(name: str, command: str) -> str:
    return f"echo '{MARK} {name}'; {command}"


class NetworkHealth(FactBase):
    """
    What a diagnosis judges on one host, read once: conntrack's count, limit, hash size and
    per-CPU statistics; the TCP counters (``ListenOverflows``, ``ListenDrops``, ``RetransSegs``,
    ``OutSegs``); links and their MTUs, the default route, the IPv4 addresses; the filter
    table's chains, FORWARD's jumps and DOCKER-USER's rules; whether ufw or firewalld runs; the
    IPsec SAs; Docker's networks; and for each running container its published ports, its own
    network namespace's TCP counters and sysctls and PID 1's ``nofile`` limit.

    Returns a dict (see ``process``); ``"docker"`` is ``dockerd.Down`` when dockerd does not
    answer (the host's own readings still stand).

    .. code:: python

        host.get_fact(NetworkHealth)
    """

    def command(self):
        tcp = "grep -h -e '^TcpExt:' -e '^Tcp:' {0}/net/netstat {0}/net/snmp 2>/dev/null"
        each = (
            f"echo \"{MARK} container $id $pid $mode $name $ports $nets\"; "
            + tcp.format("/proc/$pid") + "; "
            + "nsenter -t \"$pid\" -n sh -c " + "'" + _sysctls(NETNS_SYSCTLS).replace("'", "'\"'\"'") + "'"
            + " 2>/dev/null | sed 's/^/sysctl /'; "
            + "grep '^Max open files' /proc/$pid/limits 2>/dev/null"
        )
        version = dockerd.call("docker version --format '{{.Server.Version}}'")
        inspect = dockerd.call(f"docker inspect --format '{CONTAINER_FORMAT}' $ids")
        nets = dockerd.call("docker network inspect --format '{{json .}}' $ids")
        down = f'{dockerd.MARK}) echo "$id $pid";;'  # a failed docker call, passed on as said
        return "; ".join([
            _section("time", "date +%s.%N"),
            _section("boot", "cat /proc/sys/kernel/random/boot_id"),
            _section("arch", "uname -m"),
            _section("sysctl", _sysctls(HOST_SYSCTLS)),
            _section("ctstat", "cat /proc/net/stat/nf_conntrack 2>/dev/null"),
            _section("tcp", tcp.format("/proc")),
            _section("links", "ip -o link show"),
            _section("route", "ip -4 route show default"),
            _section("addrs", "ip -o -4 addr show"),
            _section("iptables", "timeout -k 5 30 iptables -w 5 -S 2>/dev/null | "
                                 f"grep -e '^-N' -e '^-A FORWARD' -e '^-A DOCKER-USER' -e '^{UFW_RULE}'"),
            _section("firewalld", "systemctl is-active firewalld 2>/dev/null"),
            _section("xfrm", "ip xfrm state 2>/dev/null | grep '^src'"),
            # dockerd: one bounded call says whether it answers; the others run only when it does.
            _section("docker", f'v=$({version}); echo "$v"'),
            f'case "$v" in *{dockerd.MARK}*) ;; *) '
            + _section("containers", f"ids=$({dockerd.call('docker ps -q')}); "
                       f'case "$ids" in *{dockerd.MARK}*) echo "$ids";; "") ;; *) {{ {inspect}; }} | '
                       f'while read -r id pid mode name ports nets; do case "$id" in {down} *) {each};; esac; done;; esac')
            + "; " + _section("networks", f"ids=$({dockerd.call('docker network ls -q')}); "
                              f'case "$ids" in *{dockerd.MARK}*) echo "$ids";; *) {nets};; esac') + ";; esac",
            _section("end", "date +%s.%N"),
        ])

    def process(self, output):
        sections: dict[str, list[str]] = {}
        containers: list[dict] = []
        current: list[str] = []
        for line in output:
            if line.startswith(MARK + " "):
                words = line.split()
                if words[1] == "container" and len(words) in (7, 8) and words[6].startswith("ports="):
                    current = []
                    name = words[5] if _CONTAINER_NAME.fullmatch(words[5]) else words[2][:12]
                    containers.append({"id": words[2], "pid": int(words[3]) if words[3].isdigit() else 0,
                                       "mode": words[4], "name": name.lstrip("/"),
                                       "published": published(words[6][len("ports="):]),
                                       "networks": [n for n in (words[7] if len(words) > 7 else "").split(",") if n],
                                       "lines": current})
                else:
                    current = sections.setdefault(words[1], [])
                continue
            current.append(line)
        return {
            "time": _float(sections.get("time")),
            "end": _float(sections.get("end")),
            "boot_id": (sections.get("boot") or [""])[0].strip(),
            "arch": (sections.get("arch") or [""])[0].strip(),
            "sysctl": _keyed(sections.get("sysctl", [])),
            "conntrack_stat": conntrack_stat(sections.get("ctstat", [])),
            "tcp": tcp_counters(sections.get("tcp", [])),
            "links": links(sections.get("links", [])),
            "default_dev": default_dev(sections.get("route", [])),
            "addrs": addrs(sections.get("addrs", [])),
            "iptables": [line.strip() for line in sections.get("iptables", []) if not line.startswith(UFW_RULE)],
            "host_firewalls": host_firewalls(sections.get("iptables", []), sections.get("firewalld", [])),
            "xfrm_peers": sorted({w for line in sections.get("xfrm", []) for w in line.split()[1:4:2]}),
            "docker": _docker(sections, containers),
        }


def _float(lines) -> float | None:
    try:
        return float(lines[0])
    except (TypeError, IndexError, ValueError):
        return None


def _number(text: str) -> int | None:
    return int(text) if text.strip().lstrip("-").isdigit() else None


def _keyed(lines: list[str]) -> dict:
    """``path value`` lines -> {sysctl name with dots: int or None when missing}."""
    out = {}
    for line in lines:
        path, _, value = line.strip().partition(" ")
        if path:
            out[path.replace("/", ".")] = _number(value)
    return out


def conntrack_stat(lines: list[str]) -> dict:
    """/proc/net/stat/nf_conntrack (a header, then one row of hex counters per CPU) summed over
    the CPUs, by the header's names (the columns differ between kernels)."""
    if len(lines) < 2:
        return {}
    names = lines[0].split()
    totals = dict.fromkeys(names, 0)
    for row in lines[1:]:
        for name, value in zip(names, row.split()):
            try:
                totals[name] += int(value, 16)
            except ValueError:
                pass
    totals.pop("entries", None)  # a gauge, the same on every row: the count is read on its own
    return totals


def tcp_counters(lines: list[str], keep: tuple[str, ...] | None = TCP_COUNTERS) -> dict:
    """``Tcp:`` (snmp) and ``TcpExt:`` (netstat) header/value line pairs -> {name: int}, the
    names in keep (None: every one)."""
    out, header = {}, {}
    for line in lines:
        prefix, _, rest = line.partition(":")
        words = rest.split()
        if prefix not in header or header[prefix] is None:
            header[prefix] = words
            continue
        for name, value in zip(header[prefix], words):
            if (keep is None or name in keep) and (number := _number(value)) is not None:
                out[name] = number
        header[prefix] = None  # the next line of this prefix is a header again
    return out


def published(field: str) -> list[dict]:
    """A container's published ports -> [{"port": host port, "proto", "host_ip"}], one per
    host port and protocol (Docker lists the IPv4 and the IPv6 binding apart); a binding that is
    not Docker's own shape is left out."""
    out: dict[tuple, dict] = {}
    for m in _PUBLISHED.finditer(field):
        _, proto, host_ip, host_port = m.groups()
        key = (int(host_port), proto)
        if key not in out or host_ip in WILDCARDS and out[key]["host_ip"] not in WILDCARDS:
            out[key] = {"port": int(host_port), "proto": proto, "host_ip": host_ip}
    return [out[k] for k in sorted(out)]


def host_firewalls(iptables: list[str], firewalld: list[str]) -> list[str]:
    """The host firewalls running beside Docker's rules: ufw while its chains hold rules,
    firewalld while its unit is active."""
    active = ["ufw"] if any(line.startswith(UFW_RULE) for line in iptables) else []
    return active + (["firewalld"] if [line.strip() for line in firewalld] == ["active"] else [])


def links(lines: list[str]) -> dict:
    """``ip -o link`` -> {interface: mtu} (``veth0@if5`` named ``veth0``)."""
    out = {}
    for line in lines:
        words = line.split()
        if len(words) > 2 and "mtu" in words:
            out[words[1].rstrip(":").split("@")[0]] = int(words[words.index("mtu") + 1])
    return out


def default_dev(lines: list[str]) -> str | None:
    for line in lines:
        words = line.split()
        if words[:1] == ["default"] and "dev" in words:
            return words[words.index("dev") + 1]
    return None


def addrs(lines: list[str]) -> dict:
    """``ip -o -4 addr`` -> {address: interface}."""
    out = {}
    for line in lines:
        words = line.split()
        if "inet" in words:
            out[words[words.index("inet") + 1].split("/")[0]] = words[1]
    return out


def _docker(sections: dict, containers: list[dict]) -> "dict | dockerd.Down":
    if down := dockerd.down([*sections.get("docker", []), *sections.get("containers", []),
                             *sections.get("networks", [])]):
        return down
    nets = {}
    for line in sections.get("networks", []):
        try:
            raw = json.loads(line)
        except ValueError:
            continue
        opts = raw.get("Options") or {}
        nets[raw["Name"]] = {
            "id": raw.get("Id", ""), "driver": raw.get("Driver"),
            "mtu": int(opts[MTU_OPT]) if str(opts.get(MTU_OPT, "")).isdigit() else None,
            "bridge": opts.get(BRIDGE_OPT) or (("docker0" if raw["Name"] == "bridge" else "br-" + raw.get("Id", "")[:12])
                                               if raw.get("Driver") == "bridge" else None),
            "encrypted": "encrypted" in opts, "internal": bool(raw.get("Internal")),
            "peers": sorted(p.get("IP", "") for p in raw.get("Peers") or [] if p.get("IP")),
        }
    names = {v["id"]: name for name, v in nets.items()}
    found = []
    for c in containers:
        lines = c.pop("lines")
        c["networks"] = sorted(names[i] for i in c["networks"] if i in names)  # IDs -> names
        tcp_lines = [line for line in lines if line.startswith(("Tcp:", "TcpExt:"))]
        nofile = next((line.split()[3] for line in lines if line.startswith("Max open files")), None)
        c.update(tcp=tcp_counters(tcp_lines),
                 sysctl=_keyed([line[len("sysctl "):] for line in lines if line.startswith("sysctl ")]),
                 nofile=_number(nofile) if nofile not in (None, "unlimited") else None)
        found.append(c)
    version = next((line.strip() for line in sections.get("docker", []) if line.strip()), "")
    return {"version": version, "networks": nets, "containers": found}
