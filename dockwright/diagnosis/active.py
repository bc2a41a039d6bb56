"""diagnose.py --active: probe containers try what the passive read cannot see, on each user
bridge network of a host, and are removed again (opt-in: it creates containers).

For each user bridge: a probe server is started with a published port; a fresh probe client on
the network resolves the server by name (through Docker's embedded DNS, 127.0.0.11), fetches it,
and fetches the port published on the host's own address; then a probe joins each running
container's network namespace (``--network container:NAME``) and resolves the server from
there, with that container's resolv.conf: a DNS block inside one container is found there.
Every probe carries ``LABEL``; leftovers of an interrupted run are removed first.

Names a host reports are hostile input: the command carries networks and containers by their
IDs only, and tags each probe's output with indexes that ``results`` maps back to names.
"""

import ipaddress
import re
import shlex

from .findings import Finding
from .. import dockerd, probe

MARK = "@@dw-active"
LABEL = "dockwright.diagnose=active"
PORT = 8080  # inside the server container
BOUND = 10  # seconds each probe step may take (fetch bound)


# Docker's object IDs: the only form in which a host's networks and containers reach the command.
_ID = re.compile(r"[0-9a-f]{12,64}")


def user_bridges(reading: dict) -> dict[str, list[str]]:
    """{user bridge network: names of running containers with their own namespace on it}."""
    return {net: [name for name, _ in cs] for net, _, cs in targets(reading)}


def targets(reading: dict) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """[(network name, network ID, [(container name, container ID)])] of each user bridge, in
    ID order: the command refers to each by its index in this list and by its ID only, never by
    a name the host reported (Docker accepts nearly any network name: quotes, ``;``, newlines),
    so no name changes the command, not even the order of its probes."""
    docker = reading["docker"]
    if isinstance(docker, dockerd.Down):
        return []
    nets = {n: (v["id"], []) for n, v in docker["networks"].items()
            if v["driver"] == "bridge" and n not in ("bridge", "docker_gwbridge")  # Docker's own bridges
            and _ID.fullmatch(v.get("id") or "")}
    for c in docker["containers"]:
        if c["mode"] in ("host", "none") or c["mode"].startswith("container:") or not _ID.fullmatch(c["id"]):
            continue  # no namespace of its own
        for n in c["networks"]:
            if n in nets:
                nets[n][1].append((c["name"], c["id"]))
    return [(n, nid, sorted(set(cs), key=lambda c: c[1])) for n, (nid, cs) in sorted(nets.items(), key=lambda kv: kv[1][0])]


def host_address(reading: dict, desired: dict) -> str | None:
    """The host's own address a published port is tried on: its swarm data address, else the
    first address of the default route's interface (an IPv4 address in canonical form, or None)."""
    addr = (desired.get("swarm") or {}).get("advertise_addr")
    if not (addr and addr in reading["addrs"]):
        addr = next((a for a, dev in reading["addrs"].items() if dev == reading["default_dev"]), None)
    try:
        return str(ipaddress.IPv4Address(addr)) if addr else None
    except ValueError:
        return None


def _tag(net: int, container: int | None) -> str:
    """The prefix a probe's lines get: the mark and indexes into targets(), nothing the host named."""
    return f"sed 's/^/{MARK} {net} {'-' if container is None else container} /'"


def command(reading: dict, desired: dict) -> str | None:
    """The one shell command of a host's active checks, or None when it has no user bridge."""
    nets = targets(reading)
    if not nets or not reading.get("arch"):
        return None
    image = shlex.quote(probe.image(reading["arch"]))
    addr = host_address(reading, desired)
    run = f"timeout -k 5 60 docker run --pull never --label {LABEL}"
    parts = [f"docker rm -f $(docker ps -aq --filter label={LABEL}) >/dev/null 2>&1",
             probe.ensure_command(reading["arch"]) + " || echo " + f"'{MARK} - - image=missing'"]
    for i, (net, nid, containers) in enumerate(nets):
        srv = f"dw-diag-active-{i}"
        q = shlex.quote(nid)
        steps = [f"resolve:{srv}", f"fetch:{srv}:{PORT}:{BOUND}"]
        if addr and not reading["docker"]["networks"][net].get("internal"):  # internal: no way out by design
            steps.append(f'"fetch:{addr}:$port:{BOUND}"')
        parts.append(
            f"{run} -d --rm --name {srv} --network {q} -p {PORT} {image} serve {PORT} 120 >/dev/null && "
            f"port=$(docker port {srv} {PORT}/tcp | head -1 | sed 's/.*://') && "
            f"{run} --rm --network {q} {image} {' '.join(steps)} | {_tag(i, None)}")
        for j, (_, cid) in enumerate(containers):
            parts.append(f"{run} --rm --network container:{shlex.quote(cid)} {image} resolve:{srv} | {_tag(i, j)}")
        parts.append(f"docker rm -f {srv} >/dev/null 2>&1")
    return "; ".join(parts) + "; true"


def results(lines: list[str], reading: dict) -> list[tuple[str, str, str, str]]:
    """(network, container or "-", step, result) from the command's output, the indexes mapped
    back to the names of the reading the command was made from."""
    nets = targets(reading) if reading else []
    out = []
    for line in lines:
        words = line.split(" ", 3)
        if len(words) != 4 or words[0] != MARK or "=" not in words[3]:
            continue
        step, _, result = words[3].partition("=")
        net = container = "-"
        if words[1] != "-":
            if not words[1].isdigit() or int(words[1]) >= len(nets):
                continue
            net, _, members = nets[int(words[1])]
            if words[2] != "-":
                if not words[2].isdigit() or int(words[2]) >= len(members):
                    continue
                container = members[int(words[2])][0]
        out.append((net, container, step, result.strip()))
    return out


def judge(host: str, tried: list[tuple[str, str, str, str]]) -> list[Finding]:
    out = []
    for net, container, step, result in tried:
        ok = result == "hello" if step.startswith("fetch:") else result not in ("unresolved", "") \
            and not result.startswith("E")
        if step == "image" or ok:
            if step == "image":
                out.append(Finding(host, "host", "active_probe", "warning", "the probe image could not be imported",
                                   "imported", "docker import must work on the host (disk space, dockerd)"))
            continue
        scope = f"container {container}" if container != "-" else f"network {net}"
        if step.startswith("resolve:"):
            why = ("its namespace cannot resolve a peer through 127.0.0.11" if container != "-"
                   else "a new container cannot resolve a peer through 127.0.0.11")
            out.append(Finding(host, scope, "dns", "critical", f"{step}: {result} ({why})", "resolved",
                               f"look for a rule dropping 127.0.0.11 (nsenter -n -t PID iptables -S; -t nat -S) "
                               f"and the container's /etc/resolv.conf; recreate the container on {net}"))
        elif step.count(":") == 3 and not step.split(":")[1].startswith("dw-diag-active"):
            out.append(Finding(host, scope, "published_port", "critical", f"{step}: {result}", "hello",
                               "published ports need DNAT and the FORWARD chain: see docker_chains; with "
                               "userland-proxy off, hairpin NAT on the bridge"))
        else:
            out.append(Finding(host, scope, "bridge_traffic", "critical", f"{step}: {result}", "hello",
                               "containers on this network cannot reach each other: icc, DOCKER-ISOLATION, "
                               "bridge-nf-call-iptables"))
    return out
