"""python -m dockwright (the ``dockwright`` console script): dockwright's commands by name.

    dockwright report OUT.html REPORT.json... [--previous OLD.json...]   the fleet page
    dockwright netbench INVENTORY [...]                                   the network benchmark
    dockwright --version

drift.py, diagnose.py and deploy.py run from the checkout for now (the packaged deploy and the
remaining subcommands come with the package restructuring). Usage errors exit 64.
"""

import sys

COMMANDS = {"report": "dockwright.page.__main__", "netbench": "dockwright.netbench.__main__"}


def main(argv=None) -> int:
    from importlib import import_module

    from .plumbing.runs import EXIT_USAGE, version
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--version"]:
        print(f"dockwright {version()}")
        return 0
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: dockwright {{{','.join(COMMANDS)}}} ... | --version\n"
              f"dockwright: error: {'a command is needed' if not argv else f'no command {argv[0]!r}'}", file=sys.stderr)
        return EXIT_USAGE
    return import_module(COMMANDS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
