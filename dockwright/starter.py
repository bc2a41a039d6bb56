"""``dockwright init DIR``: a starter pyinfra repo for one's own fleet.

    DIR/inventories/prod.py     an example inventory (replace the hosts with yours)
    DIR/group_data/             every concern's settings, with comments (all.py), and the role groups
    DIR/deploy.py               the packaged deploy: ``from dockwright import docker_host``
    DIR/config.py               a host whose connection data cannot be used fails alone
    DIR/schedule/               the timer, cron and CI templates for unattended runs
    DIR/README.md               what each file is, and the commands

The files come from the package (templates/starter, which are this checkout's own inventory
example and group data, and templates/schedule). The examples in the group data (networks this
checkout's fleets declare) are written commented out: a new fleet gets no network it did not ask for. Nothing that exists is overwritten: the run
stops naming every file in the way, unless ``--force``, which keeps each one as ``NAME.bak``.
"""

import argparse
import shutil
import sys
from pathlib import Path

from .templating import TEMPLATES

DEPLOY = '''"""The deploy: each host of the inventory into the state group_data/ declares, then verified.

    pyinfra inventories/prod.py deploy.py        (or: dockwright deploy inventories/prod.py)
"""

from dockwright import docker_host

docker_host()
'''

CONFIG = '''"""pyinfra's config for this directory (run before it connects): a host whose connection data
cannot be used, such as a missing key file, fails alone instead of ending the run."""

from dockwright.pyinfra_internals import once_per_process

once_per_process()
'''

README = '''# Docker hosts, managed with dockwright

- `inventories/prod.py`: the hosts, by role (swarm_managers, swarm_workers, standalone).
- `group_data/all.py`: every concern's settings, with comments (the example networks commented
  out); `group_data/<group>.py` refines them per group, host data per host.
- `deploy.py`: `pyinfra inventories/prod.py deploy.py --dry` shows what would change; without
  `--dry` it changes it, restarting Docker a few hosts at a time, and verifies every host.
- `dockwright verify --inventory inventories/prod.py`: the verification alone.
- `schedule/`: systemd units, a crontab and CI templates for unattended runs; they run
  dockwright's `drift.py` and `diagnose.py`, which come from a dockwright checkout for now.
'''


EXAMPLE_START = "# example: this checkout's fleets use it; `dockwright init` writes it commented out"
EXAMPLE_END = "# end of example"


def examples_commented(text: str) -> str:
    """The group data's text with every line between the example markers commented out."""
    out, inside = [], False
    for line in text.splitlines(keepends=True):
        stripped, indent = line.strip(), line[:len(line) - len(line.lstrip())]
        if stripped == EXAMPLE_START:
            inside = True
            out.append(f"{indent}# example (uncomment to declare it):\n")
        elif stripped == EXAMPLE_END:
            inside = False
        elif inside:
            out.append(f"{indent}# {line[len(indent):]}")
        else:
            out.append(line)
    if inside:
        raise ValueError("an example in the group data has no end marker")
    return "".join(out)


def files() -> dict[str, object]:
    """{path in the starter repo: its text, or the package file it is copied from}."""
    out: dict[str, object] = {"deploy.py": DEPLOY, "config.py": CONFIG, "README.md": README}
    for kind, folder in (("inventories", TEMPLATES / "starter" / "inventories"),
                         ("group_data", TEMPLATES / "starter" / "group_data"), ("schedule", TEMPLATES / "schedule")):
        for source in sorted(folder.iterdir(), key=lambda p: p.name):
            if source.is_file() and not source.name.endswith(".pyc"):  # a bytecode cache is no part of it
                out[f"{kind}/{source.name}"] = examples_commented(source.read_text()) if kind == "group_data" else source
    return out


def init(directory: Path, force: bool = False) -> list[str]:
    """Writes the starter repo into directory; returns the paths written. Raises FileExistsError
    naming every file in the way (unless force: each is kept as NAME.bak first)."""
    planned = files()
    taken = sorted(p for p in planned if (directory / p).exists())
    if taken and not force:
        raise FileExistsError(", ".join(taken))
    for rel, content in planned.items():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.copy2(target, target.with_name(target.name + ".bak"))
        target.write_text(content if isinstance(content, str) else content.read_text())
    return list(planned)


def main(argv: list[str] | None = None) -> int:
    from .cli import Parser
    p = Parser(prog="dockwright init", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("directory", type=Path)
    p.add_argument("--force", action="store_true", help="write over existing files, each kept as NAME.bak")
    args = p.parse_args(argv)
    try:
        written = init(args.directory, args.force)
    except FileExistsError as e:
        print(f"dockwright init: {args.directory}: already there (nothing written; --force keeps each as "
              f"NAME.bak): {e}", file=sys.stderr)
        return 1
    print(f"dockwright init: {args.directory}: {len(written)} files; next: edit inventories/prod.py, then "
          f"`pyinfra inventories/prod.py deploy.py --dry`")
    return 0
