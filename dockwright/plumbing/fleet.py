"""Loads a pyinfra inventory with its group_data: {host: {"desired", "data"}} as JSON.

    python -m dockwright.plumbing.fleet INVENTORY [DIR]   (DIR: where group_data/ is; default .)

A separate process: pyinfra's CLI loader monkey-patches the process with gevent, which
pytest-xdist cannot run under. Connection secrets (ssh_password, ssh_key_password) are left out.
"""

import argparse
import json
import sys

from dockwright import model, pyinfra_internals


def dump(inventory_path: str, cwd: str) -> dict:
    inv = pyinfra_internals.make_inventory(inventory_path, cwd=cwd)
    out = {}
    for h in inv:
        data = {k: v for k, v in h.data.dict().items() if isinstance(v, (str, int, bool, type(None)))
                and k not in ("ssh_password", "ssh_key_password")}
        out[h.name] = {"desired": model.desired(h), "data": data}
    return out


def main(argv=None) -> int:
    from .runs import Parser
    parser = Parser(prog="python -m dockwright.plumbing.fleet", description="Each host's merged data, as JSON.",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inventory")
    parser.add_argument("dir", nargs="?", default=".", help="the directory holding group_data/ (default: .)")
    args = parser.parse_args(argv)
    from .coverage import inventory_problem
    if problem := inventory_problem(args.inventory):
        print(f"dockwright fleet: {problem}", file=sys.stderr)
        return 1
    json.dump(dump(args.inventory, args.dir), sys.stdout, sort_keys=True, default=str, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
