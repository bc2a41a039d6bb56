"""Every part of pyinfra that dockwright uses beyond its documented API (operations, facts,
``host``, ``State`` callbacks, ``--data``), each with the reason. Checked against pyinfra 3.10.0;
``tests/unit/test_layers.py`` keeps them in this module, and pyproject.toml pins that version.

- ``pyinfra.context``'s managers (``ctx_state``/``ctx_host``): which run and host a deploy file
  is being executed for, and the object behind the ``pyinfra.host`` proxy (dockwright keys a
  run's state weakly by these objects, and a proxy is one object for every host).
- ``pyinfra_cli``: drift.py and diagnose.py run pyinfra's own CLI in their process so that a
  scheduled run plans exactly as ``pyinfra INVENTORY deploy.py`` would (same inventory loading,
  same ``--limit``, ``--data`` and connector flags), then read the outcome from its State:
  ``cli.main``, ``make_inventory`` and ``build_plan_json`` have no API twin.
- ``pyinfra.is_cli``: pyinfra_cli's ``main`` sets it before it loads deploy files; calling
  ``cli.main`` directly must set it too, or operations are ordered as in API mode (by host, not
  by the deploy's call order) and ``add_op`` is allowed where the CLI forbids it.
- ``pyinfra.api.inventory.get_all_connectors``/``get_execution_connectors``: pyinfra scans the
  installed packages' entry points again for every host named ``@connector/...`` (about 7 ms a
  host: 3.5 s to load a 500-host inventory of such names, twice per drift shard). Entry points do
  not change within a process, so drift.py and diagnose.py read them once (``connectors_once``).
- ``State.init``, ``Host.run_shell_command``/``put_file`` (and dockwright's own
  ``preflight._check_fleet``): wrapped by ``bench.timed`` only, never in a deploy, to time the
  phases and count the commands each host receives; ``cli_entry`` runs the CLI under them.
"""

import contextlib
import functools
import io

import pyinfra
from pyinfra import context


def current_state():
    """The State of the run being planned or executed, or None outside one."""
    return context.ctx_state.get() if context.ctx_state.isset() else None


def unwrap(obj):
    """The object behind pyinfra's context proxies (``pyinfra.host``, ``pyinfra.state``): the
    host or state of the current deploy file; any other object as it is."""
    if obj is context.host:
        return context.ctx_host.get()
    if obj is context.state:
        return context.ctx_state.get()
    return obj


def connectors_once() -> None:
    """The installed connectors read once for this process, not once per host."""
    from pyinfra.api import inventory

    if not hasattr(inventory.get_all_connectors, "cache_info"):
        inventory.get_all_connectors = functools.cache(inventory.get_all_connectors)
        inventory.get_execution_connectors = functools.cache(inventory.get_execution_connectors)


def make_inventory(path: str, cwd: str):
    """An inventory file loaded as ``pyinfra PATH ...`` loads it (groups, data, connectors)."""
    from pyinfra.api import Config, Inventory, State

    connectors_once()
    from pyinfra_cli.inventory import make_inventory as load

    with context.ctx_state.use(State(Inventory.empty(), Config())):
        return load(path, cwd=cwd)


def run_cli(args: list[str]):
    """pyinfra's CLI with ``args`` in this process, its output swallowed (never parsed):
    (its State or None, the exception it raised or None)."""
    from pyinfra_cli.cli import cli

    connectors_once()
    pyinfra.is_cli = True
    raised = None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(args=args, prog_name="pyinfra", standalone_mode=False)
    except SystemExit:
        pass
    except Exception as e:  # invalid data, a failed fact...: the caller words it
        raised = e
    return current_state(), raised


def cli_entry() -> None:
    """pyinfra's console command itself, with ``sys.argv`` (bench.timed runs it in its process)."""
    from pyinfra_cli.main import main

    main()


def plan_json(state) -> list:
    """The plan of a --dry run as pyinfra's ``--json`` prints it, built from its State."""
    from pyinfra_cli.prints import build_plan_json

    return build_plan_json(state)
