"""The network modes the benchmark compares, as commands: pure, host facts in, shell out.

The server runs on host B and the client on host A, in the mode's network; every object made
carries LABEL, and ``cleanup_commands`` remove whatever carries it (an interrupted run too).
"""

import shlex
from dataclasses import dataclass

LABEL = "dockwright.netbench=1"
PORT = 5201  # the server's port inside its container
PUBLISHED = {"bridge": 15202, "user_bridge": 15203}  # published on B's address (through DNAT)
NETWORKS = {"user_bridge": "dw-nb-bridge", "overlay": "dw-nb-overlay", "encrypted_overlay": "dw-nb-overlay-enc",
            "macvlan": "dw-nb-macvlan", "ipvlan_l2": "dw-nb-ipvlan"}
# The rules of thumb the report sets each mode's throughput ratio beside (overhead against host).
RULES_OF_THUMB = {"bridge": "~5%", "user_bridge": "~5%", "overlay": "10-15%", "encrypted_overlay": "20-30%",
                  "macvlan": "~2%", "ipvlan_l2": "~2%"}
ORDER = ("host", "bridge", "user_bridge", "overlay", "encrypted_overlay", "macvlan", "ipvlan_l2")


@dataclass(frozen=True)
class Host:
    name: str
    address: str  # on the data network
    image: str  # the probe image
    spare: str | None  # a spare data-network address (macvlan, ipvlan)
    parent: str | None  # the data interface
    manager: bool


@dataclass(frozen=True)
class Mode:
    name: str
    setup: dict  # {"A"|"B": shell command run once before the rounds}
    server: str  # on B: starts the server detached
    client_net: str  # docker run's network arguments for the client on A
    target: str  # "HOST:PORT" the client connects to ("$IP" is filled from B)
    target_from: str | None = None  # a command on B printing the server's address, when it is Docker's to give
    # Set up just before its measurement and removed right after (macvlan and ipvlan on one
    # parent and subnet cannot exist side by side: "pool overlaps").
    teardown: dict | None = None

    def client(self, image: str, step: str) -> str:
        return f"docker run --rm --pull never --label {LABEL} {LIMITS} {self.client_net} {image} {shlex.quote(step)}"


# Every netbench container is bounded, so that a benchmark on a production host cannot exhaust
# it: processes (each connection is one: the pids limit is the server's connection cap) and memory.
LIMITS = "--pids-limit 512 --memory 256m"


def limits(connections: int = 0) -> str:
    """The container bounds for a server that must hold this many connections at once."""
    return f"--pids-limit {max(512, connections + 256)} --memory {256 + connections // 8}m" if connections else LIMITS


def _run(name: str, image: str, net: str, bind: str = "") -> str:
    """A server container; bind: the address a host-network server listens on (never all)."""
    return (f"docker rm -f {name} >/dev/null 2>&1; docker run -d --pull never --label {LABEL} {LIMITS} --name {name} "
            f"{net} {image} bench {PORT} 7200{' ' + shlex.quote(bind) if bind else ''} >/dev/null")


def modes(a: Host, b: Host, subnets: dict, data_subnet: str | None, swarm: bool) -> tuple[list[Mode], dict[str, str]]:
    """The modes this pair can run, and {left-out mode: why}."""
    out, left = [], {}
    srv = lambda m: f"dw-nb-srv-{m}"  # noqa: E731
    # Servers listen on the server host's data address only: published ports and the
    # host-network server alike (never on every address of a production host).
    pub = shlex.quote(b.address)
    out.append(Mode("host", {}, _run(srv("host"), b.image, "--network host", b.address), "--network host",
                    f"{b.address}:{PORT}"))
    out.append(Mode("bridge", {}, _run(srv("bridge"), b.image, f"-p {pub}:{PUBLISHED['bridge']}:{PORT}"),
                    "--network bridge", f"{b.address}:{PUBLISHED['bridge']}"))
    net = NETWORKS["user_bridge"]
    make = (f"docker network inspect {net} >/dev/null 2>&1 || docker network create --label {LABEL} "
            f"--subnet {shlex.quote(subnets['bridge'])} {net} >/dev/null")
    out.append(Mode("user_bridge", {"A": make, "B": make},
                    _run(srv("user_bridge"), b.image, f"--network {net} -p {pub}:{PUBLISHED['user_bridge']}:{PORT}"),
                    f"--network {net}", f"{b.address}:{PUBLISHED['user_bridge']}"))
    if swarm and (a.manager or b.manager):
        on = "A" if a.manager else "B"
        for mode, key, extra in (("overlay", "overlay", ""), ("encrypted_overlay", "encrypted", "--opt encrypted ")):
            net = NETWORKS[mode]
            make = (f"docker network inspect {net} >/dev/null 2>&1 || docker network create -d overlay --attachable "
                    f"{extra}--label {LABEL} --subnet {shlex.quote(subnets[key])} {net} >/dev/null")
            out.append(Mode(mode, {on: make}, _run(srv(mode), b.image, f"--network {net}"), f"--network {net}",
                            f"$IP:{PORT}", _ip_of(srv(mode), net)))
    else:
        left.update({m: "needs two swarm nodes, one a manager" for m in ("overlay", "encrypted_overlay")})
    if not (data_subnet and a.spare and b.spare and a.parent and b.parent):
        left.update({m: "needs netbench.data_subnet and each host's netbench.address (and a data interface)"
                     for m in ("macvlan", "ipvlan_l2")})
        return out, left
    for mode, driver in (("macvlan", "-d macvlan"), ("ipvlan_l2", "-d ipvlan -o ipvlan_mode=l2")):
        net = NETWORKS[mode]
        make = {side: (f"docker network inspect {net} >/dev/null 2>&1 || docker network create {driver} "
                       f"-o parent={shlex.quote(h.parent)} --subnet {shlex.quote(data_subnet)} --label {LABEL} "
                       f"{net} >/dev/null") for side, h in (("A", a), ("B", b))}
        gone = f"docker rm -f {srv(mode)} >/dev/null 2>&1; docker network rm {net} >/dev/null 2>&1; true"
        out.append(Mode(mode, make, _run(srv(mode), b.image, f"--network {net} --ip {shlex.quote(b.spare)}"),
                        f"--network {net} --ip {shlex.quote(a.spare)}", f"{b.spare}:{PORT}",
                        teardown={"A": gone, "B": gone}))
    return out, left


def _ip_of(container: str, net: str) -> str:
    return f"docker inspect -f '{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}' {container}"


def cleanup_commands() -> tuple[str, str]:
    """(containers, networks) removal by label, each to run on every host of the run, in that
    order: a swarm network can only go once no host has an endpoint on it any more."""
    return (f"docker rm -f $(docker ps -aq --filter label={LABEL}) >/dev/null 2>&1; true",
            f"docker network rm $(docker network ls -q --filter label={LABEL}) >/dev/null 2>&1; true")


# What each host's report records about it (one command).
ENVIRONMENT = ("uname -r; docker version --format '{{.Server.Version}}' 2>/dev/null || echo -; "
               "sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1; "
               "systemd-detect-virt 2>/dev/null || echo none; "
               "grep -qw hypervisor /proc/cpuinfo && echo hypervisor || echo bare; uname -m")


def environment(lines: list[str], mtu: int | None) -> dict:
    keys = ("kernel", "engine", "cpu_model", "virtualisation", "cpu_flag", "arch")
    env = dict(zip(keys, [line.strip() for line in lines] + ["?"] * len(keys)))
    # Software emulation (TCG) shows qemu's own CPU model; KVM passes the host's model through.
    env["emulated"] = "QEMU Virtual CPU" in env["cpu_model"] or (env["virtualisation"] == "qemu")
    env["mtu"] = mtu
    return env
