"""The lab fleet (inventories/lab.py), each host recorded as it answers: see bench/replay.py.

    pyinfra bench/record_inventory.py deploy.py ...   (run by `make bench-record`)
"""

from inventories import lab as _lab

ROLES = {"swarm_managers": "manager", "swarm_workers": "worker", "standalone": "standalone"}


def _recorded(group: str) -> list:
    return [(f"@dwrecord/{name}", {**data, "replay_role": ROLES[group]}) for name, data in getattr(_lab, group)]


swarm_managers = _recorded("swarm_managers")
swarm_workers = _recorded("swarm_workers")
standalone = _recorded("standalone")
lab = swarm_managers + swarm_workers + standalone  # the lab's group data, as inventories/lab.py gets it
