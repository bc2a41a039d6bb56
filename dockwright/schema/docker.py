"""The docker concern's data: the engine package, the rollout's settings, and daemon.json's
keys with their types (a key not here goes in docker.passthrough, deliberately)."""

import functools
import os
import re
import string

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

# A Debian version (epoch:upstream-revision), * a wildcard as apt's pins take it. It reaches a
# host only quoted (the pin file's text, the rollout's argument): free text, not a word.
VERSION = re.compile(r"[0-9*][A-Za-z0-9.+~:*-]{0,127}")


def _version(v, key, report):
    if v != "" and (not isinstance(v, str) or not VERSION.fullmatch(v)):
        report(key, v, "expected '' or a package version (digits, letters and .+~:-, * as a wildcard)")


_version.kind = "text"

REPOSITORY = Struct({
    "url": Str(nonempty=False),  # checked by _rule_repository when the source is "repository"
    "suite": Name("word"),
    "components": ListOf(Name("word")),
    "key": Str(nonempty=False),
}, required=("url", "suite", "components", "key"))

DOCKER = Struct({
    "package": Str(("docker.io", "docker-ce")),
    "source": Str(("distribution", "repository")),
    "repository": REPOSITORY,
    "version": _version,
    "hold": Bool(),
    "restart_batch": Int(1, 1000),
    "allow_container_stop": Bool(),
    "retry_failed": Bool(),
    "health_timeout": Int(10, 3600),
    "passthrough": MapOf(Any_()),
    "secret_keys": ListOf(Name("label key"), unique=True),
    "daemon": Struct(DAEMON_KEYS),
# The keys the engine's operations read (a fleet's data written before a release that added
# one is stopped here, naming it, instead of failing inside an operation).
}, required=("package", "source", "repository", "version", "hold", "restart_batch", "allow_container_stop",
             "retry_failed", "health_timeout", "passthrough", "secret_keys", "daemon"))


def _rule_passthrough(state, report):
    docker = state.get("docker", {})
    for key, value in docker.get("passthrough", {}).items():
        if key in docker.get("daemon", {}):
            report(f"docker.passthrough.{key}", value, "also set in docker.daemon; set it once")


# A URL apt can fetch from, with {id} (debian, ubuntu) and {codename} filled in per host. No
# user:password@: apt takes credentials from /etc/apt/auth.conf.d, and a URL is shown and stored.
REPOSITORY_URL = re.compile(r"https?://[A-Za-z0-9._~:/%+{}-]+")
KEY_BLOCK = "-----BEGIN PGP PUBLIC KEY BLOCK-----"


def _rule_repository(state, report):
    docker = state.get("docker", {})
    repo = docker.get("repository", {})
    if docker.get("source") != "repository":
        return
    url = repo.get("url", "")
    if not isinstance(url, str) or not REPOSITORY_URL.fullmatch(url) or not _placeholders_known(url):
        why = ("credentials do not go in the URL (apt reads them from /etc/apt/auth.conf.d)"
               if isinstance(url, str) and "@" in url else
               "expected the repository's http(s) URL ({id} and {codename} are filled in per host, "
               "no other braces)")
        report("docker.repository.url", secrets_hidden(url), why)
    key = repo.get("key", "")
    if not key:
        report("docker.repository.key", key, "a repository needs its signing key: the path of its "
                                              "ASCII-armored public key on this machine")
        return
    try:
        text = read_key(key)
    except OSError as e:
        report("docker.repository.key", key, f"cannot read it: {e.strerror}")
        return
    if KEY_BLOCK not in text:
        report("docker.repository.key", key, "not an ASCII-armored OpenPGP public key (export one "
                                              "with gpg --armor --export)")


def _placeholders_known(url: str) -> bool:
    """Only {id} and {codename}, each whole: anything else in braces would fail to fill."""
    try:
        return all(field in (None, "id", "codename") and not spec and not conv
                   for _, field, spec, conv in string.Formatter().parse(url))
    except ValueError:  # an unmatched brace
        return False


def secrets_hidden(url):
    """A URL as shown: what stands between :// and @ (a password) is never printed."""
    if isinstance(url, str) and "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def read_key(path: str) -> str:
    """The repository key's text, as it is installed on the hosts (read once per process)."""
    return _read(os.path.abspath(path))


@functools.lru_cache(maxsize=None)
def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read()


RULES = [_rule_passthrough, _rule_repository]
