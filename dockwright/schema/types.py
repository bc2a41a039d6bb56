"""The checkers the data is validated with: each takes (value, key, report) and reports every
problem it finds; nested types recurse with longer keys. Also the problem a check reports, and
the error that stops a run on them."""

import difflib
import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from pyinfra.api.exceptions import DeployError


@dataclass(frozen=True)
class Problem:
    host: str
    key: str
    value: Any
    why: str

    def __str__(self) -> str:
        return f"{self.host}: {self.key} = {self.value!r}: {self.why}"


class InvalidDesiredState(DeployError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"dockwright: {len(problems)} problem(s) in the desired state, "
                         f"no host was changed:\n{lines}")


# ---- field types -------------------------------------------------------------------------------
# A checker takes (value, key, report) and reports problems; nested types recurse with longer keys.



def Bool():
    def check(v, key, report):
        if not isinstance(v, bool):
            report(key, v, "expected true or false")
    return check


def Int(lo: int | None = None, hi: int | None = None):
    def check(v, key, report):
        if isinstance(v, bool) or not isinstance(v, int):
            report(key, v, "expected an integer")
        elif (lo is not None and v < lo) or (hi is not None and v > hi):
            report(key, v, f"expected {lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}")
    return check


def Ratio(hi: float = 1.0):
    """A number in (0, hi] (an int is taken as a float; a bool is not a number here)."""
    def check(v, key, report):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= hi:
            report(key, v, f"expected a number above 0 and at most {hi}")
    return check


def Str(choices: tuple | None = None, nonempty: bool = True):
    def check(v, key, report):
        if not isinstance(v, str) or (nonempty and not v):
            report(key, v, "expected a non-empty string")
        elif choices and v not in choices:
            report(key, v, f"expected one of {', '.join(map(str, choices))}")
    check.kind = "choice" if choices else "text"
    return check


# Strict patterns for every string that names something on a host (a file, a profile, a
# network, an image, an interface). Such values reach remote commands, so they are checked
# here, and quoted where they are used as well.
PATTERNS = {
    # Docker's own rule for network names, and short enough for any tool that prints them.
    "network name": r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}",
    # Profile and file names: a file name in /etc/apparmor.d or /etc/docker/seccomp.
    "profile name": r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}",
    # Linux interface names: at most 15 characters, no slash or space.
    "interface name": r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}\+?",
    "syscall name": r"[a-z0-9_]{1,64}",
    "absolute path": r"(/[A-Za-z0-9_.@+-]+)+",
    "sysctl.d file": r"/etc/sysctl\.d/[A-Za-z0-9_.-]+\.conf",
    "label key": r"[A-Za-z0-9][A-Za-z0-9_./-]{0,127}",
    "word": r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}",
    "port range": r"[0-9]{1,5}-[0-9]{1,5}",
}


def Name(kind: str):
    """A string that must match PATTERNS[kind] in full (and hold no '..' path step)."""
    pattern = re.compile(PATTERNS[kind])

    def check(v, key, report):
        if not isinstance(v, str) or not pattern.fullmatch(v) or ".." in v.split("/") or \
                "/../" in v or v.endswith("/.."):
            report(key, v, f"not a valid {kind} (must match {PATTERNS[kind]})")
    check.kind = "name"
    return check


def Line():
    """Free text on one line (no control characters): it is quoted wherever it is used."""
    def check(v, key, report):
        if not isinstance(v, str) or not v or any(ord(c) < 32 or ord(c) == 127 for c in v):
            report(key, v, "expected a non-empty string on one line, without control characters")
    check.kind = "text"
    return check


def Optional(inner):
    def check(v, key, report):
        if v is not None:
            inner(v, key, report)
    check.parts = {"inner": inner}
    return check


def OneOf(*checkers, what: str):
    def check(v, key, report):
        for c in checkers:
            errs = []
            c(v, key, lambda *a: errs.append(a))
            if not errs:
                return
        report(key, v, f"expected {what}")
    check.parts = {f"option{i}": c for i, c in enumerate(checkers)}
    return check


# What an address or network may be written with: Python's ipaddress also takes IPv6 scope IDs
# ("fe80::1%eth0"), and a scope ID may hold any character but "%" and "/", newlines included,
# which would reach a rules file or a command line. Scope IDs are refused everywhere.
PLAIN_ADDRESS = re.compile(r"[0-9A-Fa-f.:]+(/[0-9]{1,3})?")


def _plain(v, key, report) -> bool:
    if isinstance(v, str) and PLAIN_ADDRESS.fullmatch(v):
        return True
    report(key, v, "not a plain IP address or network (digits, hex, '.', ':' and one '/prefix'; "
                   "IPv6 scope IDs are refused)")
    return False


@functools.lru_cache(maxsize=4096)
def _parse_network(text: str):
    return ipaddress.ip_network(text)


def network(v) -> "ipaddress._BaseNetwork":
    """ipaddress.ip_network (strict), parsed once per text: a fleet's hosts share their subnets,
    and every run validates every host's."""
    return _parse_network(v) if isinstance(v, str) else ipaddress.ip_network(v)


def Net(version: int | None = None):
    def check(v, key, report):
        if not _plain(v, key, report):
            return
        try:
            net = network(v)
        except (TypeError, ValueError) as e:
            report(key, v, f"not a CIDR network ({e})")
            return
        if version and net.version != version:
            report(key, v, f"expected an IPv{version} network")
    return check


def _parsed(parse, why: str):
    """A checker for plain address values parse accepts; why may name the parser's error as {e}."""
    def check(v, key, report):
        if not _plain(v, key, report):
            return
        try:
            parse(v)
        except (TypeError, ValueError) as e:
            report(key, v, why.format(e=e))
    return check


def _interface(v):
    ipaddress.ip_interface(v)
    if "/" not in str(v):
        raise ValueError("no prefix length")


def Iface():
    """An address with prefix, e.g. docker's bip 172.17.0.1/16."""
    return _parsed(_interface, "not an address/prefix ({e})")


def Addr():
    return _parsed(ipaddress.ip_address, "not an IP address")


def ListOf(inner, unique: bool = False):
    def check(v, key, report):
        if not isinstance(v, list):
            report(key, v, "expected a list")
            return
        for i, item in enumerate(v):
            inner(item, f"{key}[{i}]", report)
        if unique and len({repr(x) for x in v}) != len(v):
            report(key, v, "duplicate entries")
    check.parts = {"item": inner}
    return check


def MapOf(value_checker, key_checker=None):
    def check(v, key, report):
        if not isinstance(v, dict):
            report(key, v, "expected a mapping")
            return
        for k, item in v.items():
            if key_checker:
                key_checker(k, f"{key}.{k}", report)
            value_checker(item, f"{key}.{k}", report)
    check.parts = {"key": key_checker or _free_key, "value": value_checker}
    return check


def Struct(fields: dict, required: tuple = (), open_keys: bool = False):
    """A mapping with known keys; an unknown key is an error unless open_keys."""
    def check(v, key, report):
        if not isinstance(v, dict):
            report(key, v, "expected a mapping")
            return
        for k, item in v.items():
            sub = f"{key}.{k}" if key else k
            if k in fields:
                fields[k](item, sub, report)
            elif not open_keys:
                report(sub, item, _unknown(k, fields, key))
        for k in required:
            if k not in v:
                report(f"{key}.{k}", None, "required key is missing (every key and its default: "
                                            "group_data/all.py as `dockwright init` writes it)")
    check.fields = fields
    return check


def _unknown(name, fields, parent) -> str:
    close = difflib.get_close_matches(str(name), list(fields), n=1)
    hint = f"did you mean {close[0]!r}?" if close else (
        f"known: {', '.join(sorted(fields))}" if len(fields) <= 12 else "see README, Data model")
    if parent == "docker.daemon":
        hint += " (keys dockwright does not model go in docker.passthrough)"
    return f"unknown key; {hint}"


def _free_key(v, key, report):
    """Map keys that are not checked (docker.passthrough: dockerd judges them)."""


_free_key.kind = "text"


def Any_():
    def check(v, key, report):
        pass
    return check
