"""Findings from one host's reading (``fact.NetworkHealth``): pure, the data's ``diagnose``
thresholds in, findings out, each with the measured value, the threshold and the fix.

Counters (conntrack drops, listen overflows, retransmissions) are judged since the previous run
when its reading of the same boot is given, else since boot; both are shown.
"""

from dataclasses import asdict, dataclass

from .. import dockerd
from .fact import MTU_OPT

SEVERITIES = ("critical", "warning", "info")
# Every check a diagnosis makes (the metrics carry each one in every run, 0 when it found nothing).
CHECKS = ("dockerd", "conntrack_used", "conntrack_insert_failed", "conntrack_drop", "conntrack_early_drop",
          "conntrack_hash", "ListenOverflows", "ListenDrops", "retransmissions", "ip_forward",
          "bridge_nf_call_iptables", "docker_chains", "mtu_bridge", "mtu_overlay", "esp_sa", "container_sysctl",
          "container_nofile", "clock_skew", "dns", "published_port", "bridge_traffic", "active_probe",
          "host_firewall_bypass")
# VXLAN's outer headers: IPv4 20 + UDP 8 + VXLAN 8 + the inner Ethernet header 14.
VXLAN_OVERHEAD = 50
# Docker's default MTU for a network that sets none (the overlay driver subtracts its own
# encapsulation, and IPsec's, from it: the outer packet is this size).
DEFAULT_MTU = 1500
# Network modes whose container shares another namespace (no namespace of its own to judge).
SHARED_MODES = ("host", "none")


@dataclass(frozen=True)
class Finding:
    host: str
    scope: str  # "host", "container NAME" or "network NAME"
    check: str
    severity: str
    value: str
    threshold: str
    fix: str

    def rank(self) -> int:
        return SEVERITIES.index(self.severity)

    def as_dict(self) -> dict:
        return asdict(self)


def at_least(severity: str, floor: str) -> bool:
    """severity is as bad as floor, or worse."""
    return SEVERITIES.index(severity) <= SEVERITIES.index(floor)


def counter(now: dict, before: dict | None, name: str) -> tuple[int, int | None]:
    """(since boot, since the previous reading or None without one of the same boot)."""
    value = now.get(name) or 0
    if before is None or name not in before:
        return value, None
    return value, max(value - (before.get(name) or 0), 0)


def _judged(total: int, delta: int | None) -> tuple[int, str]:
    """The number a threshold judges (since the last run when known) and how it is shown."""
    if delta is None:
        return total, f"{total} since boot"
    return delta, f"{delta} since the last run ({total} since boot)"


def judge(host: str, reading: dict, thresholds: dict, desired: dict, previous: dict | None = None) -> list[Finding]:
    """Every finding on host from its reading; previous is this host's reading from the last
    run (used for counters when it is of the same boot)."""
    same_boot = previous if previous and previous.get("boot_id") == reading.get("boot_id") else None
    out: list[Finding] = []
    out += _conntrack(host, reading, thresholds, same_boot)
    out += _tcp(host, "host", reading["tcp"], (same_boot or {}).get("tcp"), thresholds,
                host_fix="raise net.core.somaxconn and net.ipv4.tcp_max_syn_backlog (group_data sysctl.settings), "
                         "and the listening application's own backlog")
    out += _plumbing(host, reading, desired)
    docker = reading["docker"]
    if isinstance(docker, dockerd.Down):
        out.append(Finding(host, "host", "dockerd", "critical", str(docker), "answers",
                           "systemctl status docker; journalctl -u docker (dockwright's deploy starts it)"))
        return out
    out += _mtu(host, reading, docker, desired)
    out += _esp(host, reading, docker)
    out += _host_firewall_bypass(host, reading, docker)
    before = {c["id"]: c for c in ((same_boot or {}).get("docker") or {}).get("containers", [])} \
        if isinstance((same_boot or {}).get("docker"), dict) else {}
    for c in docker["containers"]:
        out += _container(host, reading, c, before.get(c["id"]), thresholds)
    return out


def _conntrack(host, reading, t, before) -> list[Finding]:
    sysctl = reading["sysctl"]
    count, limit = sysctl.get("net.netfilter.nf_conntrack_count"), sysctl.get("net.netfilter.nf_conntrack_max")
    if limit is None:
        return []  # the module is not loaded: nothing is tracked
    out = []
    fix_max = f"conntrack.max: {max(limit * 2, 131072)} (group_data), or shorter conntrack.timeouts"
    used = (count or 0) / limit if limit else 0
    for severity, key in (("critical", "conntrack_used_critical"), ("warning", "conntrack_used_warning")):
        if used >= t[key]:
            out.append(Finding(host, "host", "conntrack_used", severity, f"{count}/{limit} = {used:.0%}",
                               f"{t[key]:.0%}", fix_max))
            break
    stat, stat_before = reading["conntrack_stat"], (before or {}).get("conntrack_stat")
    for name in ("insert_failed", "drop", "early_drop"):
        total, delta = counter(stat, stat_before, name)
        judged, shown = _judged(total, delta)
        if judged >= t["conntrack_drops"]:
            out.append(Finding(host, "host", f"conntrack_{name}", "critical", shown,
                               f"{t['conntrack_drops']}", fix_max))
    buckets = sysctl.get("net.netfilter.nf_conntrack_buckets")
    if buckets and limit / buckets > t["conntrack_entries_per_bucket"]:
        out.append(Finding(host, "host", "conntrack_hash", "warning",
                           f"{limit / buckets:.1f} entries per bucket ({limit}/{buckets})",
                           f"{t['conntrack_entries_per_bucket']}", "conntrack.buckets: auto (max / 4)"))
    return out


def _tcp(host, scope, now, before, t, host_fix: str) -> list[Finding]:
    out = []
    for name in ("ListenOverflows", "ListenDrops"):
        total, delta = counter(now, before, name)
        judged, shown = _judged(total, delta)
        if judged >= t["listen_overflows"]:
            out.append(Finding(host, scope, name, "warning", shown, f"{t['listen_overflows']}", host_fix))
    sent, sent_delta = counter(now, before, "OutSegs")
    again, again_delta = counter(now, before, "RetransSegs")
    segs, retrans = (sent, again) if sent_delta is None else (sent_delta, again_delta)
    if segs >= t["retrans_min_segments"] and retrans / segs >= t["retrans_ratio"]:
        since = "since boot" if sent_delta is None else "since the last run"
        out.append(Finding(host, scope, "retransmissions", "warning",
                           f"{retrans}/{segs} segments = {retrans / segs:.2%} {since}", f"{t['retrans_ratio']:.2%}",
                           "find the loss on the path: ip -s link (errors, drops), tc -s qdisc, the MTU findings, "
                           "the peer's load"))
    return out


def _plumbing(host, reading, desired) -> list[Finding]:
    sysctl, out = reading["sysctl"], []
    if sysctl.get("net.ipv4.ip_forward") != 1:
        out.append(Finding(host, "host", "ip_forward", "critical", str(sysctl.get("net.ipv4.ip_forward")), "1",
                           "sysctl.settings: net.ipv4.ip_forward: 1 (containers cannot reach out without it)"))
    bridge_nf = sysctl.get("net.bridge.bridge-nf-call-iptables")
    if bridge_nf != 1:
        out.append(Finding(host, "host", "bridge_nf_call_iptables", "warning",
                           "br_netfilter not loaded" if bridge_nf is None else str(bridge_nf), "1",
                           "modprobe br_netfilter, and sysctl.settings: net.bridge.bridge-nf-call-iptables: 1 "
                           "(icc: false and published ports between containers need it)"))
    daemon = (desired.get("docker") or {}).get("daemon") or {}
    if daemon.get("iptables", True) and not isinstance(reading["docker"], dockerd.Down):
        rules = set(reading["iptables"])
        chains = {r.split()[1] for r in rules if r.startswith("-N ")}
        jumps = {r.split("-j ", 1)[1].split()[0] for r in rules if r.startswith("-A FORWARD") and "-j " in r}
        missing = [c for c in ("DOCKER", "DOCKER-USER") if c not in chains]
        missing += [f"FORWARD -j {c}" for c in ("DOCKER-USER",) if c not in jumps]
        # Engine 28 moved the isolation and DOCKER jumps under DOCKER-FORWARD.
        if not jumps & {"DOCKER-FORWARD", "DOCKER-ISOLATION-STAGE-1"}:
            missing.append("FORWARD -j DOCKER-FORWARD or DOCKER-ISOLATION-STAGE-1")
        if missing:
            out.append(Finding(host, "host", "docker_chains", "critical", "missing: " + ", ".join(missing),
                               "present", "systemctl restart docker (dockerd writes its chains at start); "
                               "find what flushed them (a firewall service reloading its own rules)"))
    return out


def _uplink(reading, first: str | None, then: str | None) -> tuple[str | None, int | None]:
    """(interface, MTU) of the first of two candidates the host has: the default route's
    device, or the interface holding the swarm's data address (a host without a default route
    still forwards its containers' traffic out of its data network)."""
    for dev in (first, then):
        if dev and dev in reading["links"]:
            return dev, reading["links"][dev]
    return None, None


def _mtu(host, reading, docker, desired) -> list[Finding]:
    out = []
    declared = (desired.get("networks") or {})
    data_dev = reading["addrs"].get((desired.get("swarm") or {}).get("advertise_addr") or "")
    dev, uplink = _uplink(reading, reading["default_dev"], data_dev)
    swarm_dev, swarm_uplink = _uplink(reading, data_dev, reading["default_dev"])
    for name, net in sorted(docker["networks"].items()):
        if net["driver"] == "bridge" and uplink:
            mtu = net["mtu"] or reading["links"].get(net["bridge"]) or DEFAULT_MTU
            if mtu > uplink:
                key = f"networks.bridges.{name}.mtu: {uplink}" if name in declared.get("bridges", {}) else \
                    (f'docker.daemon: "mtu": {uplink}' if name == "bridge" else
                     f"recreate {name} with --opt {MTU_OPT}={uplink}")
                out.append(Finding(host, f"network {name}", "mtu_bridge", "critical",
                                   f"{mtu} on {net['bridge']}, uplink {dev} {uplink}", f"<= {uplink}", key))
        elif net["driver"] == "overlay" and swarm_uplink:
            mtu = net["mtu"] or DEFAULT_MTU
            if mtu > swarm_uplink:
                extra = " (ESP adds more)" if net["encrypted"] else ""
                key = f"networks.overlays.{name}.mtu: {swarm_uplink}" if name in declared.get("overlays", {}) else \
                    f"recreate {name} with --opt {MTU_OPT}={swarm_uplink}"
                out.append(Finding(host, f"network {name}", "mtu_overlay", "critical",
                                   f"{mtu} (VXLAN {VXLAN_OVERHEAD} bytes inside it{extra}), uplink {swarm_dev} "
                                   f"{swarm_uplink}", f"<= {swarm_uplink}", key))
    return out



def _esp(host, reading, docker) -> list[Finding]:
    own = set(reading["addrs"])
    with_sa = set(reading["xfrm_peers"])
    out = []
    for name, net in sorted(docker["networks"].items()):
        if net["driver"] != "overlay" or not net["encrypted"]:
            continue
        missing = [p for p in net["peers"] if p not in own and p not in with_sa]
        if missing:
            out.append(Finding(host, f"network {name}", "esp_sa", "critical",
                               f"no IPsec SA with {', '.join(missing)}", "an SA per peer",
                               "allow ESP (IP protocol 50) and UDP 4789 between the nodes; then "
                               "docker network disconnect/connect the containers, or restart docker"))
    return out


def _words_after(words: list[str], flags: tuple[str, ...]) -> str | None:
    for i, w in enumerate(words[:-1]):
        if w in flags:
            return words[i + 1]
    return None


def port_filtered(rules: list[str], port: int, proto: str) -> bool:
    """Whether a DOCKER-USER rule (``iptables -S`` form) drops or rejects some connections to
    this published port: one that names the port (``--ctorigdstport``, as dockwright's port
    policy writes it, ``--dport`` or ``--dports``, ranges included) or one that drops without
    naming a port or a source (an interface's blanket drop)."""
    for rule in rules:
        words = rule.split()
        if _words_after(words, ("-j",)) not in ("DROP", "REJECT"):
            continue
        if _words_after(words, ("-p",)) not in (None, proto):
            continue
        ports = _words_after(words, ("--ctorigdstport", "--dport", "--dports", "--destination-port"))
        if ports is None:
            if "-s" not in words:
                return True
            continue
        for item in ports.split(","):
            low, _, high = item.partition(":")
            if low.isdigit() and int(low) <= port <= int(high if high.isdigit() else low):
                return True
    return False


def _host_firewall_bypass(host, reading, docker) -> list[Finding]:
    """A published port on a host whose firewall (ufw, firewalld) the admin trusts, with no
    rule in DOCKER-USER: Docker DNATs it in PREROUTING, so it crosses FORWARD and never meets
    the host firewall's INPUT rules, whatever they say."""
    firewalls = reading.get("host_firewalls") or []
    if not firewalls or "-N DOCKER-USER" not in reading["iptables"]:
        return []  # no host firewall to be bypassed, or Docker does not DNAT (iptables off)
    rules = [r for r in reading["iptables"] if r.startswith("-A DOCKER-USER ")]
    out = []
    for c in docker["containers"]:
        for p in c.get("published", []):
            if p["host_ip"].startswith("127.") or p["host_ip"] == "::1" or \
                    port_filtered(rules, p["port"], p["proto"]):
                continue
            where = f"{p['host_ip'] or '0.0.0.0'}:{p['port']}/{p['proto']}"
            out.append(Finding(
                host, f"container {c['name']}", "host_firewall_bypass", "warning",
                f"{where} is published while {' and '.join(firewalls)} is active, and no DOCKER-USER rule "
                f"filters it: Docker DNATs it before {firewalls[0]}'s INPUT rules, which never see it",
                "a port policy for every published port",
                f'networks.port_policy: [{{"port": {p["port"]}, "proto": "{p["proto"]}", '
                f'"allow_from": ["<who may connect>"]}}] (dockwright keeps it in DOCKER-USER, the chain '
                "published ports cross); or publish it on 127.0.0.1 only"))
    return out


def _container(host, reading, c, before, t) -> list[Finding]:
    scope, out = f"container {c['name']}", []
    own_netns = c["mode"] not in SHARED_MODES and not c["mode"].startswith("container:") and c["pid"] > 0
    if own_netns:
        out += _tcp(host, scope, c["tcp"], (before or {}).get("tcp"), t,
                    host_fix="the service's sysctls: net.core.somaxconn (compose sysctls:, docker run --sysctl), "
                             "and the application's own listen backlog")
        low = {name: (c["sysctl"][name], reading["sysctl"][name]) for name in ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog")
               if c["sysctl"].get(name) is not None and reading["sysctl"].get(name) is not None
               and c["sysctl"][name] < reading["sysctl"][name]}
        if low:  # one finding per container, every key it lacks in its fix
            out.append(Finding(host, scope, "container_sysctl", "warning",
                               ", ".join(f"{k} = {mine}" for k, (mine, _) in low.items()),
                               "the host's " + ", ".join(str(hosts) for _, hosts in low.values()),
                               "compose sysctls: {" + ", ".join(f"{k}: {h}" for k, (_, h) in low.items()) + "} "
                               "(docker run " + " ".join(f"--sysctl {k}={h}" for k, (_, h) in low.items()) + "): "
                               "a container has its own network namespace, the host's tuning stops at it"))
    if c["nofile"] is not None and c["nofile"] < t["container_nofile_min"]:
        want = t["container_nofile_min"]
        out.append(Finding(host, scope, "container_nofile", "warning", f"PID 1 soft nofile {c['nofile']}",
                           f">= {want}", f"compose ulimits: {{nofile: {{soft: {want}, hard: {want}}}}} "
                           "(or docker.daemon default-ulimits)"))
    return out


def clock_skew(offsets: dict[str, float], threshold: float) -> list[Finding]:
    """Swarm nodes whose clock disagrees with the others' by more than threshold seconds
    (offsets: each node's clock minus the controller's as its reading arrived). From three
    nodes on, the median is the reference (a majority that agrees outvotes one that does not);
    two nodes that disagree are both named, as nothing says which of them is right."""
    fix = ("timedatectl set-ntp true (or chrony/systemd-timesyncd): swarm's raft and certificates "
           "need agreeing clocks")
    if len(offsets) < 2:
        return []
    if len(offsets) == 2:
        (a, x), (b, y) = sorted(offsets.items())
        if abs(x - y) <= threshold:
            return []
        return [Finding(h, "host", "clock_skew", "critical", f"{off - other:+.1f} s from {peer}", f"{threshold} s", fix)
                for h, off, peer, other in ((a, x, b, y), (b, y, a, x))]
    ordered = sorted(offsets.values())
    median = ordered[len(ordered) // 2]
    return [Finding(h, "host", "clock_skew", "critical", f"{off - median:+.1f} s from the swarm's median",
                    f"{threshold} s", fix)
            for h, off in sorted(offsets.items()) if abs(off - median) > threshold]
