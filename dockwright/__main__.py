"""python -m dockwright (the ``dockwright`` console script): dockwright's commands by name.

    dockwright init DIR [--force]                         a starter pyinfra repo for one's own fleet
    dockwright deploy INVENTORY [pyinfra's options]      the packaged deploy (pyinfra INVENTORY deploy.py)
    dockwright drift INVENTORY [--fix] [...]              drift detection and correction
    dockwright diagnose INVENTORY [...]                   the fleet's networking, read-only
    dockwright verify --inventory INVENTORY [...]         the verification suite
    dockwright data INVENTORY                             each host's merged data, secrets masked
    dockwright netbench INVENTORY [...]                   the network benchmark
    dockwright report OUT.html REPORT.json...             the fleet page
    dockwright --version

Each runs in the current directory, the project's: its inventories, group_data/, deploy.py and
reports/ (a checkout's drift.py and diagnose.py run in that checkout). Usage errors exit 64.
"""

import sys

# Each command's function, as "module:function": imported only when that command runs.
COMMANDS = {"init": "dockwright.starter:main", "deploy": "dockwright.__main__:deploy",
            "drift": "dockwright.commands.drift:main", "diagnose": "dockwright.commands.diagnose:main",
            "verify": "dockwright.verify.__main__:main", "data": "dockwright.fleet_data:data_main",
            "report": "dockwright.page.__main__:main", "netbench": "dockwright.netbench.__main__:main"}


def deploy(argv: list[str]) -> int:
    """pyinfra's own CLI with the packaged deploy file after the inventory (pyinfra's options
    may come before or after it)."""
    from importlib import resources

    from .cli import EXIT_USAGE
    from .pyinfra_internals import cli_entry
    inventory = next((a for a in argv if not a.startswith("-")), None)
    if inventory is None:
        print("usage: dockwright deploy INVENTORY [pyinfra's options]\n"
              "dockwright deploy: error: an inventory is needed", file=sys.stderr)
        return EXIT_USAGE
    at = argv.index(inventory) + 1
    with resources.as_file(resources.files(__package__) / "deploy_file.py") as deploy_file:
        sys.argv = ["pyinfra", *argv[:at], str(deploy_file), *argv[at:]]
        try:
            cli_entry()
        except SystemExit as e:
            return e.code if isinstance(e.code, int) else 1
    return 0


def main(argv=None) -> int:
    from importlib import import_module

    from .cli import EXIT_USAGE, version
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--version"]:
        print(f"dockwright {version()}")
        return 0
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: dockwright {{{','.join(COMMANDS)}}} ... | --version\n"
              f"dockwright: error: {'a command is needed' if not argv else f'no command {argv[0]!r}'}", file=sys.stderr)
        return EXIT_USAGE
    module, _, function = COMMANDS[argv[0]].partition(":")
    return getattr(import_module(module), function)(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
