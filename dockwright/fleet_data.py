"""Loads a pyinfra inventory with its group_data: {host: {"desired", "data"}} as JSON.

    dockwright data INVENTORY                              each host's merged data, secrets masked
    python -m dockwright.fleet_data INVENTORY [DIR]    the same unmasked, for the verification
                                                           suite's pipe (DIR: where group_data/ is)

A separate process for the suite: pyinfra's CLI loader monkey-patches the process with gevent,
which pytest-xdist cannot run under. Connection secrets (ssh_password, ssh_key_password) are
always left out.
"""

import argparse
import json
import sys

from dockwright import model, pyinfra_internals, secrets


def dump(inventory_path: str, cwd: str) -> dict:
    inv = pyinfra_internals.make_inventory(inventory_path, cwd=cwd)
    out = {}
    for h in inv:
        data = {k: v for k, v in h.data.dict().items() if isinstance(v, (str, int, bool, type(None)))
                and k not in ("ssh_password", "ssh_key_password")}
        out[h.name] = {"desired": model.desired(h), "data": data}
    return out


def masked(fleet: dict) -> dict:
    """The fleet as a person may see it: every secret in daemon.json's data masked (by key, and
    any URL's user information), as drift's report shows it."""
    out = {}
    for name, host in fleet.items():
        desired = model.copied(host["desired"])
        docker = desired.get("docker") if isinstance(desired.get("docker"), dict) else {}
        keys = tuple(k for k in docker.get("secret_keys") or () if isinstance(k, str))
        for section in ("daemon", "passthrough"):
            if isinstance(docker.get(section), dict):
                docker[section] = secrets.shown(docker[section], "", keys)
        out[name] = {"desired": desired, "data": {k: secrets.shown(v) for k, v in host["data"].items()}}
    return out


def data_main(argv: list[str]) -> int:
    """dockwright data INVENTORY: each host's merged data as JSON, in the current directory's
    project, every secret masked."""
    from .coverage import inventory_problem
    from .cli import Parser
    parser = Parser(prog="dockwright data", description="Each host's merged data (every group_data layer "
                    "and the inventory's host data), as JSON, secrets masked.")
    parser.add_argument("inventory")
    args = parser.parse_args(argv)
    if problem := inventory_problem(args.inventory):
        print(f"dockwright data: {problem}", file=sys.stderr)
        return 1
    fleet = dump(args.inventory, ".")
    if not fleet:
        print(f"dockwright data: {args.inventory} yields no host", file=sys.stderr)
        return 1
    json.dump(masked(fleet), sys.stdout, sort_keys=True, default=str, indent=1)
    print()
    return 0


def main(argv=None) -> int:
    from .cli import Parser
    parser = Parser(prog="python -m dockwright.fleet_data", description="Each host's merged data, as JSON.",
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
