"""N simulated hosts replaying the lab's recorded answers (bench/replay.py), for controller
benchmarks. DOCKWRIGHT_SIM_HOSTS=N (default 10): 3 managers, then 2 workers for each
standalone host. Each host has its own name and data address; all carry the lab's group data.

DOCKWRIGHT_SIM_FAULTS=P (a percentage, default 0): a real fleet's broken hosts. P% of the hosts
after the first three are each unreachable, a worker whose dockerd is stopped, a standalone
host that refuses the data (a later sysctl file), and a drifted manager, replaying the lab's
recordings of those states (bench/recording/fault-*.json, `python -m bench.scale record-faults`).
DOCKWRIGHT_SIM_FAULT_KINDS (comma-separated, default all): only these faults.
DOCKWRIGHT_SIM_MAINTENANCE (comma-separated host names, e.g. sim-m0001): hosts in planned absence.
"""

import json
import os
from pathlib import Path

N = int(os.environ.get("DOCKWRIGHT_SIM_HOSTS", "10"))
_recording = Path(os.environ.get("DOCKWRIGHT_REPLAY_DIR") or Path(__file__).resolve().parent / "recording")
_manager = _recording / (os.environ.get("DOCKWRIGHT_REPLAY_AS", "") + "manager.json")
# The first manager keeps the recorded manager's address: the workers' recorded answers name it
# as their swarm's manager, and dockwright checks that they are in this fleet's swarm.
_FIRST = json.loads(_manager.read_text()).get("data_ip") if _manager.exists() else None


def _host(i: int, role: str) -> tuple[str, dict]:
    addr = (i == 0 and _FIRST) or f"10.{200 + i // 65025}.{i // 255 % 255}.{i % 255 + 1}"
    return f"@dwreplay/sim-{role[0]}{i:04d}", {
        "replay_role": role, "data_ip": addr, "swarm": {"advertise_addr": addr},
    }


_roles = ["manager"] * min(3, N) + [("standalone" if i % 3 == 2 else "worker") for i in range(max(0, N - 3))]
_hosts = [_host(i, role) for i, role in enumerate(_roles)]

# Faults, spread over the fleet (every k-th host), never on the first three managers.
_FAULTS = (("unreachable", None), ("dockerd-stopped", "worker"), ("refused", "standalone"), ("drifted", "manager"))
_share = float(os.environ.get("DOCKWRIGHT_SIM_FAULTS", "0")) / 100
_count = round(_share * N)
_kinds = set(filter(None, os.environ.get("DOCKWRIGHT_SIM_FAULT_KINDS", "").split(","))) or {f for f, _ in _FAULTS}
for _k, (_fault, _role) in enumerate(_FAULTS):
    if _fault not in _kinds:
        continue
    for _j in range(_count):
        _i = 3 + (_j * len(_FAULTS) + _k) * max(1, (N - 3) // max(1, _count * len(_FAULTS)))
        if _i >= N:
            break
        _name, _data = _hosts[_i]
        _data = dict(_data, replay_fault=_fault)
        if _role:
            _name = f"@dwreplay/sim-{_role[0]}{_i:04d}"
            _data = dict(_data, replay_role=_role, replay_as="fault-")
        _hosts[_i] = (_name, _data)

_maintenance = set(filter(None, os.environ.get("DOCKWRIGHT_SIM_MAINTENANCE", "").split(",")))
_hosts = [(name, dict(data, maintenance={"reason": "kernel upgrade", "until": "2026-12-31"}))
          if name.split("/")[-1] in _maintenance else (name, data) for name, data in _hosts]

swarm_managers = [h for h in _hosts if h[1]["replay_role"] == "manager"]
swarm_workers = [h for h in _hosts if h[1]["replay_role"] == "worker"]
standalone = [h for h in _hosts if h[1]["replay_role"] == "standalone"]
lab = _hosts
