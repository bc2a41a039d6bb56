"""N simulated hosts replaying the lab's recorded answers (bench/replay.py), for controller
benchmarks. DOCKWRIGHT_SIM_HOSTS=N (default 10): 3 managers, then 2 workers for each
standalone host. Each host has its own name and data address; all carry the lab's group data.
"""

import os

N = int(os.environ.get("DOCKWRIGHT_SIM_HOSTS", "10"))


def _host(i: int, role: str) -> tuple[str, dict]:
    addr = f"10.{200 + i // 65025}.{i // 255 % 255}.{i % 255 + 1}"
    return f"@dwreplay/sim-{role[0]}{i:04d}", {
        "replay_role": role, "data_ip": addr, "swarm": {"advertise_addr": addr},
    }


_roles = ["manager"] * min(3, N) + [("standalone" if i % 3 == 2 else "worker") for i in range(max(0, N - 3))]
_hosts = [_host(i, role) for i, role in enumerate(_roles)]

swarm_managers = [h for h in _hosts if h[1]["replay_role"] == "manager"]
swarm_workers = [h for h in _hosts if h[1]["replay_role"] == "worker"]
standalone = [h for h in _hosts if h[1]["replay_role"] == "standalone"]
lab = _hosts
