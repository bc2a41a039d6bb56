"""The lab fleet booted by `python -m lab up` (read from the lab's state file).

Groups match the data model: swarm_managers, swarm_workers, standalone.
DOCKWRIGHT_HOST_DATA (JSON: {"lab2": {...}}) layers per-run host data on top, for tests.
DOCKWRIGHT_LAB_USER=dw connects as the VMs' non-root user and runs everything through sudo
(`_sudo` in host data; with DOCKWRIGHT_LAB_SUDO=flag, no such data: the run passes --sudo).
"""

import json
import os

from lab import config

_state = json.loads(config.STATE_FILE.read_text()) if config.STATE_FILE.exists() else {"hosts": {}}
_extra = json.loads(os.environ.get("DOCKWRIGHT_HOST_DATA", "{}"))
_user = os.environ.get("DOCKWRIGHT_LAB_USER", "root")
# Tests may show a VM under another inventory name ({"lab3": "lab0"}): a new host sorting first.
_names = json.loads(os.environ.get("DOCKWRIGHT_LAB_NAMES", "{}"))


def _host(name: str, info: dict) -> tuple[str, dict]:
    data = {
        "ssh_hostname": "127.0.0.1",
        "ssh_port": info["port"],
        "ssh_user": _user,
        "ssh_key": _state["key"],
        # Lab VMs make new host keys on every fresh overlay; they are only reachable on loopback.
        "ssh_strict_host_key_checking": "no",
        "ssh_known_hosts_file": "/dev/null",
        # Emulated VMs under load can be slow to answer a new connection: try again, as any
        # fleet with busy hosts would.
        "ssh_connect_retries": 2,
        "data_ip": info["data_ip"],
        "swarm": {"advertise_addr": info["data_ip"]},
        # A spare address on the data network for the benchmark's macvlan/ipvlan containers.
        "netbench": {"address": info["data_ip"].rsplit(".", 1)[0] + "." + str(100 + int(info["data_ip"].rsplit(".", 1)[1]))},
    }
    if _user != "root" and os.environ.get("DOCKWRIGHT_LAB_SUDO", "data") == "data":
        data["_sudo"] = True  # every operation and fact through sudo, as on many real fleets
    name = _names.get(name, name)
    for key, value in _extra.get(name, {}).items():  # one level deep: swarm.role keeps the address
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    return name, data


def _group(group: str) -> list:
    return [_host(name, info) for name, info in sorted(_state["hosts"].items())
            if group in info["groups"]]


swarm_managers = _group("swarm_managers")
swarm_workers = _group("swarm_workers")
standalone = _group("standalone")
