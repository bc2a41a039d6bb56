"""A host's data beyond the concerns: which top-level names it may hold, and the connection
data pyinfra and the verification connect with, validated like any other data.

A top-level name is a concern's (``schema.data_keys``), pyinfra's own (connector
data such as ``ssh_*``, global arguments such as ``_sudo``), or one of ``NAMES`` below. Anything
else is a mistake that would otherwise be dropped without a word (``conntrak = {...}`` leaves
the host on the defaults): an error with "did you mean", naming the file or host.

Connection data reaches ssh command lines on the controller (the verification's testinfra runs
ssh through a shell) and addresses reach commands on hosts: addresses are checked as addresses
(no IPv6 scope ID: one may hold any character but ``%`` and ``/``), names and paths by the
characters they may hold.
"""

import difflib
import ipaddress
import re

from .schema import Problem, data_keys

# dockwright's own top-level names besides the concerns, each with what it holds.
NAMES = {
    "environment_groups": "group_data/all.py: the groups that are environments (merged before role groups)",
    "data_ip": "the host's address on the data network (swarm, verification's reach checks, netbench)",
    "maintenance": "the host is left out of scheduled runs: {'reason': str, 'until': 'YYYY-MM-DD'}",
}
# ... and the prefixes of names dockwright's bench gives its simulated hosts (replay_role,
# replay_fault, replay_as: bench/sim_inventory.py).
DOCKWRIGHT_PREFIXES = ("replay_",)
# pyinfra's connector data and global arguments (pyinfra/connectors/*: each connector's prefix).
PYINFRA_PREFIXES = ("ssh_", "winrm_", "docker_", "dockerssh_", "chroot_", "local_", "terraform_", "vagrant_", "_")

HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?")
USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?")
PATH = re.compile(r"[A-Za-z0-9_./~@+,=:-]{1,4096}")
PATH_KEYS = ("ssh_key", "ssh_known_hosts_file", "ssh_config_file")
HOST_KEY_POLICIES = ("yes", "no", "accept-new", "off")
SECRET_KEYS = ("ssh_password", "ssh_key_password")


def source_name(layer: str) -> str:
    """Where a layer of model.layers comes from, as a user would look for it."""
    if layer == "all":
        return "group_data/all.py"
    if layer.startswith("group "):
        return f"group_data/{layer[len('group '):]}.py"
    if layer.startswith("host "):
        return "the inventory's host data"
    if layer == "registered defaults":
        return "a registered concern's defaults"
    return "--data"


def unknown_names(layers: list[tuple[str, str, dict]]) -> list[Problem]:
    """A problem for each top-level name that nothing reads, once per place it is written:
    layers are (who, layer, data), who being the host for its own layers. The value is not
    shown (a misspelled name may hold a credential): its type is."""
    problems, seen = [], set()
    known = sorted({*data_keys(), *NAMES})
    for who, layer, data in layers:
        where = source_name(layer)
        shared = not layer.startswith("host ")
        for name in sorted(data or {}):
            if name in known or name.startswith(PYINFRA_PREFIXES + DOCKWRIGHT_PREFIXES):
                continue
            if shared and (where, name) in seen:
                continue
            seen.add((where, name))
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            problems.append(Problem(where if shared else who, name, f"<{type(data[name]).__name__}>",
                                    f"unknown name in {where}: nothing reads it; {hint}"))
    return problems


def address(value) -> str | None:
    """Why value is not an IP address dockwright will put on a command line (None: it is one)."""
    try:
        ip = ipaddress.ip_address(str(value))
    except ValueError:
        return "not an IP address"
    if getattr(ip, "scope_id", None) is not None or str(ip) != str(value):
        return "an IP address in its canonical form, without a scope ID"
    return None


def connection_problems(host: str, data) -> list[Problem]:
    """Problems with the connection data a host is reached with (pyinfra's HostData, or a dict)."""
    get = data.get
    problems = []

    def bad(key, why, shown=True):
        problems.append(Problem(host, key, get(key) if shown else "(not shown)", why))

    hostname = get("ssh_hostname")
    if hostname is not None and (not isinstance(hostname, str) or
                                 (address(hostname) and not HOSTNAME.fullmatch(hostname))):
        bad("ssh_hostname", "a host name (letters, digits, '-', '_', '.') or an IP address without a scope ID")
    if get("data_ip") is not None and (why := address(get("data_ip"))):
        bad("data_ip", why)
    port = get("ssh_port")
    if port is not None and not (str(port).isdigit() and 1 <= int(port) <= 65535):
        bad("ssh_port", "a port number, 1-65535")
    user = get("ssh_user")
    if user is not None and not (isinstance(user, str) and USER.fullmatch(user)):
        bad("ssh_user", "a user name (letters, digits, '_', '.', '-')")
    for key in PATH_KEYS:
        value = get(key)
        if value is not None and not (isinstance(value, str) and PATH.fullmatch(value)):
            bad(key, "a path of letters, digits and _ . / ~ @ + , = : - (no spaces or shell characters)")
    policy = get("ssh_strict_host_key_checking")
    if policy is not None and str(policy).lower() not in HOST_KEY_POLICIES:
        bad("ssh_strict_host_key_checking", f"one of {', '.join(HOST_KEY_POLICIES)}")
    for key in SECRET_KEYS:
        if get(key) is not None and not isinstance(get(key), str):
            bad(key, "a string", shown=False)
    return problems


def unused_group_files(inventory) -> list[str]:
    """group_data files whose group no host of the inventory is in (a warning, not an error:
    inventories often share one group_data directory)."""
    return sorted(f"group_data/{name}.py" for name, data in inventory.group_data.items()
                  if data and name != "all" and not inventory.get_group(name, default=[]))
