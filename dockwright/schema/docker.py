"""The docker concern's data: the engine package, the rollout's settings, and daemon.json's
keys with their types (a key not here goes in docker.passthrough, deliberately)."""

from .types import Addr, Any_, Bool, Iface, Int, Line, ListOf, MapOf, Name, Net, OneOf, Str, Struct

ULIMIT = Struct({"Name": Str(), "Soft": Int(-1), "Hard": Int(-1)}, required=("Name", "Soft", "Hard"))

# Keys of daemon.json that dockwright knows, with their types. A key not here must go in
# docker.passthrough, deliberately.
DAEMON_KEYS = {
    "log-level": Str(("debug", "info", "warn", "error", "fatal")),
    "log-driver": Name("word"),
    "log-opts": MapOf(Line(), Name("word")),  # dockerd rejects non-string log-opts
    "default-ulimits": MapOf(ULIMIT),
    "icc": Bool(),
    "userland-proxy": Bool(),
    "no-new-privileges": Bool(),
    "live-restore": Bool(),
    "iptables": Bool(),
    "ip6tables": Bool(),
    "ip-forward": Bool(),
    "ip-masq": Bool(),
    "ipv6": Bool(),
    "fixed-cidr-v6": Net(6),
    "mtu": Int(68, 65535),
    "bip": Iface(),
    "fixed-cidr": Net(4),
    "default-address-pools": ListOf(Struct({"base": Net(), "size": Int(1, 128)}, required=("base", "size"))),
    "storage-driver": Name("word"),
    "data-root": Name("absolute path"),
    "exec-root": Name("absolute path"),
    "seccomp-profile": OneOf(Name("absolute path"), Str(("builtin", "unconfined")),
                             what="an absolute path, 'builtin' or 'unconfined'"),
    "userns-remap": Name("word"),
    "debug": Bool(),
    "experimental": Bool(),
    "max-concurrent-downloads": Int(1),
    "max-concurrent-uploads": Int(1),
    "shutdown-timeout": Int(0),
    "dns": ListOf(Addr()),
    "registry-mirrors": ListOf(Line()),
    "insecure-registries": ListOf(Line()),
    "features": MapOf(Bool(), Name("word")),
    "metrics-addr": Line(),
    "exec-opts": ListOf(Line()),
    "labels": ListOf(Line()),
    "default-runtime": Name("word"),
    "runtimes": MapOf(Struct({"path": Name("absolute path"), "runtimeArgs": ListOf(Line())}),
                      Name("word")),
    "hosts": ListOf(Line()),
    "containerd": Name("absolute path"),
    "firewall-backend": Str(("iptables", "nftables")),
    "selinux-enabled": Bool(),
}

DOCKER = Struct({
    "package": Str(("docker.io", "docker-ce")),
    "restart_batch": Int(1, 1000),
    "allow_container_stop": Bool(),
    "retry_failed": Bool(),
    "health_timeout": Int(10, 3600),
    "passthrough": MapOf(Any_()),
    "secret_keys": ListOf(Name("label key"), unique=True),
    "daemon": Struct(DAEMON_KEYS),
})


def _rule_passthrough(state, report):
    docker = state.get("docker", {})
    for key, value in docker.get("passthrough", {}).items():
        if key in docker.get("daemon", {}):
            report(f"docker.passthrough.{key}", value, "also set in docker.daemon; set it once")


RULES = [_rule_passthrough]
