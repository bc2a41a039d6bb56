"""The suite's reads of a host, batched: one remote command for every file and state check, one
container of the probe image for every behaviour that needs no special container options. Each
is read once per host and run (each xdist worker has one host), and the checks judge what they hold.

The commands are the suite's own (not the deploy's facts); files come back base64-encoded, so
no content can be taken for a section marker.
"""

import base64
import json
import shlex

from dockwright import model

from dockwright import probe

from . import expect

MARK = "@@dw-verify:"
FILES = {"daemon.json": "/etc/docker/daemon.json"}


def _proc(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def sysctl_names(desired: dict) -> list[str]:
    """The sysctl names the data manages (their values may depend on the host; their names do not)."""
    return sorted({k.lstrip("-") for k in expect.sysctls(desired, 1, 1)})


def namespace_candidates(names) -> list[str]:
    """The net.* names a network namespace may have its own value of (conntrack's are host-wide);
    which ones really are is read from a fresh namespace on the host."""
    return sorted(k for k in names if k.startswith("net.") and not k.startswith("net.netfilter."))


def read_sysctls(names: list[str]) -> str:
    """Shell that prints name=value for each name ("MISSING" when the kernel has no such key)."""
    return "; ".join(f"printf '%s=%s\\n' {shlex.quote(k)} \"$(cat {shlex.quote(_proc(k))} 2>/dev/null || "
                     f"echo MISSING)\"" for k in names)


def files(desired: dict) -> dict[str, str]:
    out = dict(FILES)
    if model.enabled(desired, "seccomp"):
        out["seccomp"] = f"/etc/docker/seccomp/{desired['seccomp']['name']}.json"
    if model.enabled(desired, "apparmor"):
        out["apparmor"] = f"/etc/apparmor.d/{desired['apparmor']['name']}"
    if model.enabled(desired, "docker") and desired["docker"].get("source") == "repository":
        out["apt.source"] = "/etc/apt/sources.list.d/dockwright-docker.sources"
        out["apt.key"] = "/etc/apt/keyrings/dockwright-docker.asc"
    return out


def state_command(desired: dict) -> str:
    names = sysctl_names(desired)
    per_ns = namespace_candidates(names)
    parts = {
        "size": "nproc; awk '/^MemTotal:/ {print $2}' /proc/meminfo",  # KiB
        "sysctl.live": read_sysctls(names),
        "sysctl.fresh-netns": f"unshare --net sh -c {shlex.quote(read_sysctls(per_ns))}" if per_ns else "true",
        "sysctl.d": "systemd-analyze cat-config sysctl.d 2>/dev/null",
        "conntrack.hashsize": "cat /sys/module/nf_conntrack/parameters/hashsize 2>/dev/null || echo not-loaded",
        "modules-load.d": "systemd-analyze cat-config modules-load.d 2>/dev/null",
        "modprobe.conntrack": "modprobe -c 2>/dev/null | grep '^options nf_conntrack ' || true",
        "docker.unit": "systemctl is-enabled docker; systemctl is-active docker",
        "docker.info": "docker info --format '{{json .}}'",
        "docker.networks": "docker network ls -q | xargs -r docker network inspect",
        "overlay.modules": "for m in vxlan esp4 xfrm_user xfrm_algo; do "
                           "modprobe -n -q $m 2>/dev/null || [ -d /sys/module/$m ] || echo $m; done",
        "apparmor.enabled": "cat /sys/module/apparmor/parameters/enabled 2>/dev/null",
        "apparmor.profiles": "cat /sys/kernel/security/apparmor/profiles 2>/dev/null",
        "iptables.filter": "iptables -S 2>/dev/null",
        "iptables.nat": "iptables -t nat -S POSTROUTING 2>/dev/null",
        "probe.images": probe.STATE_COMMAND,
    }
    docker = desired.get("docker", {})
    if model.enabled(desired, "docker") and (docker.get("source") == "repository" or docker.get("version")):
        package = shlex.quote(docker["package"])
        # apt's own view: where the package comes from and which version it would take.
        parts["apt.policy"] = f"LC_ALL=C apt-cache policy {package}"
        parts["apt.installed"] = f"dpkg-query -W -f='${{Version}} ${{Status}}\\n' {package}"
        parts["apt.holds"] = "apt-mark showhold"
        parts["os-release"] = "cat /etc/os-release"
    for name, path in files(desired).items():
        q = shlex.quote(path)
        parts[f"file.{name}"] = f"stat -c '%U %G %a' {q} 2>/dev/null && base64 -w0 {q}; echo"
    return "; ".join(f"echo {MARK}{name}; {{ {command}; }} 2>/dev/null" for name, command in parts.items()) + "; true"


def parse(output: str) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith(MARK):
            current = line[len(MARK):]
            sections[current] = []
        elif current:
            sections[current].append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def networks(state: dict) -> dict[str, dict]:
    """`docker network inspect` of every network on the host: {name: raw inspect}."""
    return {raw["Name"]: raw for raw in json.loads(state["docker.networks"] or "[]")}


def key_values(text: str) -> dict[str, str]:
    return {k: v for k, _, v in (line.partition("=") for line in text.splitlines()) if _}


def file_of(state: dict, name: str) -> tuple[str | None, str | None]:
    """("owner group mode", content) of a file of the snapshot; (None, None) when absent."""
    lines = state.get(f"file.{name}", "").splitlines()
    if not lines or not lines[0].strip():
        return None, None
    return lines[0].strip(), base64.b64decode(lines[1] if len(lines) > 1 else "").decode()


# Behaviour under the daemon's defaults (no container options): one container for all of it.
FAMILIES_OK = ("inet", "inet6", "unix", "netlink")
# Denied by Docker's built-in profile; must be denied under ours as well.
BUILTIN_DENIED = ("keyctl", "add_key", "request_key", "bpf", "kexec_load", "unshare", "ptrace")
FAMILY_NAMES = {17: "packet"}


def seccomp_steps(desired: dict) -> list[str]:
    denied = [FAMILY_NAMES[f] for f in desired.get("seccomp", {}).get("deny_socket_families", []) if f in FAMILY_NAMES]
    return [f"socket:{f}" for f in FAMILIES_OK + tuple(denied)] + [f"syscall:{s}" for s in BUILTIN_DENIED]


def default_container_steps(desired: dict) -> list[str]:
    """The probe's steps under the daemon's defaults: no_new_privs, the nofile limit, the
    per-namespace sysctls a container sees, and the seccomp probes."""
    per_ns = namespace_candidates(sysctl_names(desired))
    return ["nnp", "nofile", *(f"sysctl:{k}" for k in per_ns), *seccomp_steps(desired)]


def flat(value) -> str:
    return " ".join(str(value).split())


def per_namespace_tuned(desired: dict, state: dict) -> dict[str, str]:
    """{key: the data's value} of each managed net.* key that a fresh network namespace on this
    host has its own value of (read in the state's fresh namespace)."""
    cores, mem_kib = state["size"].split()
    settings = expect.sysctls(desired, int(cores), int(mem_kib) * 1024)
    candidates = namespace_candidates(k.lstrip("-") for k in settings)
    fresh = {k: v for k, v in key_values(state["sysctl.fresh-netns"]).items() if v != "MISSING"}
    return {k.lstrip("-"): flat(v) for k, v in settings.items()
            if k.lstrip("-") in candidates and fresh.get(k.lstrip("-"))}


def bridges(desired: dict) -> list[str]:
    """The declared bridge networks, when the networks concern is on."""
    return sorted(desired["networks"]["bridges"]) if model.enabled(desired, "networks") else []


def policy_rules(desired: dict) -> list[dict]:
    """The port policy's rules a peer can try: single TCP ports over IPv4, any interface."""
    policy = desired["networks"].get("port_policy") if model.enabled(desired, "networks") else None
    return [r for r in policy or [] if r.get("proto", "tcp") == "tcp" and isinstance(r["port"], int)
            and not r.get("in_interface") and r.get("family", "both") in ("both", "ipv4")]


def served_ports(desired: dict) -> tuple[list[int], int]:
    """(the rules' ports, a control port no rule names): what the host's probe server publishes."""
    ports = [r["port"] for r in policy_rules(desired)]
    return ports, next(p for p in range(18080, 18180) if p not in ports)


def bridge_steps(peer: str) -> list[str]:
    """A client's view of a peer on a bridge: the resolver, the peer's name and address, a page
    from it, an ICMP echo."""
    return ["read:/etc/resolv.conf", f"resolve:{peer}", f"fetch:{peer}:8080", f"ping:{peer}"]


# deny_network entries the probe can try, and the probe's name for each.
AA_PROBES = {"inet-raw": "raw", "inet6-raw": "raw6", "packet": "packet"}
# What every program needs and an AppArmor profile must leave alone: netlink (ip, getifaddrs), unix.
AA_ALLOWED = ("socket:netlink", "socket:unix", "getifaddrs")


def workload_steps(desired: dict, per_ns: dict[str, str], own_name: str | None) -> list[str]:
    """The workload's view: the per-namespace sysctls it was given, its confinement, the kinds
    of socket the AppArmor data denies and those it must allow, and (on a bridge) its own name."""
    steps = [f"sysctl:{k}" for k in sorted(per_ns)]
    if model.enabled(desired, "apparmor"):
        kinds = [k for k in desired["apparmor"].get("deny_network", []) if k in AA_PROBES]
        steps += ["read:/proc/self/attr/current", *(f"socket:{AA_PROBES[k]}" for k in kinds), *AA_ALLOWED]
    if own_name:
        steps.append(f"resolve:{own_name}")
    return steps


def sysctls_seen(results: dict[str, str]) -> dict[str, str]:
    """{name: value} from a probe's sysctl:NAME steps."""
    return {k[len("sysctl:"):]: v for k, v in results.items() if k.startswith("sysctl:")}
