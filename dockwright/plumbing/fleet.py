"""Loads a pyinfra inventory with its group_data: {host: {"desired", "data"}} as JSON.

Run as a separate process (python -m dockwright.plumbing.fleet INVENTORY REPO): pyinfra's CLI
loader monkey-patches the process with gevent, which pytest-xdist cannot run under.
"""

import json
import sys

from dockwright import model, pyinfra_internals


def dump(inventory_path: str, cwd: str) -> dict:
    inv = pyinfra_internals.make_inventory(inventory_path, cwd=cwd)
    out = {}
    for h in inv:
        data = {k: v for k, v in h.data.dict().items() if isinstance(v, (str, int, bool, type(None)))}
        out[h.name] = {"desired": model.desired(h), "data": data}
    return out


if __name__ == "__main__":
    json.dump(dump(sys.argv[1], sys.argv[2]), sys.stdout, sort_keys=True, default=str)
