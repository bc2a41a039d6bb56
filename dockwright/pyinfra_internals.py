"""Every part of pyinfra that dockwright uses beyond its documented API (operations, facts,
``host``, ``State`` callbacks, ``--data``), each with the reason. Checked against pyinfra 3.10.0;
``tests/unit/test_layers.py`` keeps them in this module (and pyinfra_context), and
pyproject.toml pins that version.

- ``pyinfra.context``'s managers: in ``dockwright.pyinfra_context``, at the bottom of the
  layers (the run's state is keyed by what they hold), with the reason there.
- ``pyinfra_cli``: drift.py and diagnose.py run pyinfra's own CLI in their process so that a
  scheduled run plans exactly as ``pyinfra INVENTORY deploy.py`` would (same inventory loading,
  same ``--limit``, ``--data`` and connector flags), then read the outcome from its State:
  ``cli.main``, ``make_inventory`` and ``build_plan_json`` have no API twin.
- ``pyinfra.is_cli``: pyinfra_cli's ``main`` sets it before it loads deploy files; calling
  ``cli.main`` directly must set it too, or operations are ordered as in API mode (by host, not
  by the deploy's call order) and ``add_op`` is allowed where the CLI forbids it.
- Per-call costs that do not change within a process, paid once instead (``once_per_process``,
  which drift.py, diagnose.py and deploy.py call). At 500 replayed hosts they were 60% of a
  no-op drift run's controller CPU (11.3 s, now 6.0 s):
  - ``pyinfra.api.inventory.get_all_connectors``/``get_execution_connectors``: pyinfra scans
    the installed packages' entry points again for every host named ``@connector/...`` (about
    7 ms a host). Entry points do not change within a process: read once.
  - ``pyinfra.api.arguments.all_global_arguments`` (and its name in ``pyinfra.api.facts``): the
    type hints of pyinfra's global arguments, evaluated again (``typing.get_type_hints``) at
    every operation call on every host and for every fact class defined. Fixed by the
    installed pyinfra: read once.
  - ``pyinfra_cli.cli._get_inventory_pattern_matches``: each ``--limit`` pattern is matched
    against every host name (fnmatch), so a drift shard's limit of N/k names costs N*N/k. A
    pattern without glob characters that names no group matches only the host of that name:
    looked up. Groups and globs are matched as pyinfra matches them.
- ``pyinfra.api.util.get_operation_order_from_stack``: in CLI mode pyinfra orders operations by
  walking the call stack (``inspect.stack``) at every operation call on every host. inspect maps
  each frame's file to a module; for a file that is no module's, as a deploy file that pyinfra
  executes, it scans every loaded module (about 700) on every call. ``deploy_file_known`` gives
  deploy.py a module entry (``__file__`` only) so that the lookup is a dict hit; nothing else
  changes (the lines read are the same).
- ``pyinfra_cli.cli.connect_all`` (drift.py and diagnose.py's in-process runs, and the plain
  ``pyinfra`` CLI through config.py, ``connect_alone``): before pyinfra connects, each host's connect is wrapped so that a host
  whose connection data cannot be used (pyinfra raises ``PyinfraError`` for a missing key file,
  which ends the run for every host) fails alone, as an unreachable host does; and a
  ``BaseStateCallback`` (public) records why each host could not connect, in the run.
- ``click.utils.should_strip_ansi`` (NO_COLOR, no-color.org): pyinfra writes its log with
  ``click.echo``, which colours a terminal whatever the environment says; with NO_COLOR set,
  once_per_process tells it to strip the colours.
- ``State.init``, ``Host.run_shell_command``/``put_file`` (and dockwright's own
  ``preflight._check_fleet``): wrapped by ``bench.timed`` only, never in a deploy, to time the
  phases and count the commands each host receives; ``cli_entry`` runs the CLI under them.
"""

import contextlib
import contextvars
import functools
import io
import os

import pyinfra

from .pyinfra_context import current_state, state_in_use

# The pyinfra minor versions whose internals (above) dockwright has been checked against.
SUPPORTED = ("3.10",)


def supported(version: str) -> bool:
    return ".".join(version.split(".")[:2]) in SUPPORTED


def error_text(e: BaseException) -> str:
    """What an exception from pyinfra's CLI says; its internal-error wrapper has no message of
    its own, so the wrapped exception speaks (a failing __str__ must not end the report)."""
    e = getattr(e, "exception", None) or e
    for text in (lambda: getattr(e, "message", None), lambda: str(e)):
        try:
            if value := text():
                return str(value)
        except Exception:
            pass
    return type(e).__name__


def once_per_process() -> None:
    """pyinfra's lookups that cannot change within a process, done once (see above)."""
    from pyinfra.api import arguments, facts, inventory

    if hasattr(inventory.get_all_connectors, "cache_info"):
        return
    inventory.get_all_connectors = functools.cache(inventory.get_all_connectors)
    inventory.get_execution_connectors = functools.cache(inventory.get_execution_connectors)
    hints = functools.cache(arguments.all_global_arguments)
    arguments.all_global_arguments = facts.all_global_arguments = hints

    if os.environ.get("NO_COLOR"):
        import click.utils
        click.utils.should_strip_ansi = lambda stream=None, color=None: True

    from pyinfra_cli import cli

    cli._get_inventory_pattern_matches = functools.partial(_pattern_matches, cli._get_inventory_pattern_matches)
    cli.connect_all = functools.partial(_connect_alone, cli.connect_all)


def _connect_alone(connect_all, state) -> None:
    """pyinfra's connect_all, with each host failing alone and its reason kept in the run."""
    from pyinfra.api.exceptions import ConnectError, PyinfraError
    from pyinfra.api.state import BaseStateCallback

    from . import run

    this = run.of_state(state)
    for switch, value in SWITCHES.get().items():  # run_cli's: fixed for the whole run
        setattr(this, switch, value)
    reasons = this.unreachable

    class Reasons(BaseStateCallback):
        @staticmethod
        def host_connect_error(state, host, error):
            reasons[host.name] = f"cannot connect: {error_text(error)}"

    state.add_callback_handler(Reasons())

    def alone(host, connect, *args, **kwargs):
        try:
            return connect(*args, **kwargs)
        except ConnectError:
            raise
        except PyinfraError as e:  # connection data pyinfra cannot use: this host only
            reasons[host.name] = f"cannot connect: {error_text(e)}"
            from pyinfra import logger
            logger.error(f"{host.print_prefix}cannot connect: {error_text(e)}")
            return None

    def absent(*args, **kwargs):
        return None  # never connected: pyinfra fails the host, the run reports it skipped

    progress = COMPACT.get()
    if progress is not None:
        _compact(state, progress)
    from .coverage import maintenance
    for host in state.inventory:
        if not state.is_host_in_limit(host):
            continue
        why = maintenance(host.data) if this.scheduled else None
        if why:
            this.skipped[host.name] = f"maintenance: {why}"
            host.connect = absent
        else:
            host.connect = functools.partial(alone, host, host.connect)
    connect_all(state)
    if progress is not None:
        progress["line"]("connected")


def _compact(state, progress: dict) -> None:
    """--progress compact: pyinfra's per-host lines give way to dockwright's one line, after the
    connect and every 20 s, counted by pyinfra's own callbacks (its log text is never read)."""
    import logging
    import sys
    import time

    import gevent
    from pyinfra.api.state import BaseStateCallback

    counts = {"connected": 0, "unreachable": 0}

    class Counts(BaseStateCallback):
        @staticmethod
        def host_connect(state, host):
            counts["connected"] += 1

        @staticmethod
        def host_connect_error(state, host, error):
            counts["unreachable"] += 1

    state.add_callback_handler(Counts())
    hosts = sum(1 for h in state.inventory if state.is_host_in_limit(h))
    started = time.monotonic()

    def line(phase: str) -> None:
        failed = max(0, len(state.failed_hosts) - counts["unreachable"])  # pyinfra fails the unreachable too
        print(f"{progress['who']}: {phase}: {counts['connected']} of {hosts} host(s) connected, "
              f"{counts['unreachable']} could not connect, {failed} failed since "
              f"({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)

    def beat() -> None:
        while True:
            gevent.sleep(20)
            line("running")

    progress["level"] = logging.getLogger("pyinfra").level
    logging.getLogger("pyinfra").setLevel(logging.WARNING)  # warnings and errors per host stay
    progress["line"], progress["beat"] = line, gevent.spawn(beat)


def _pattern_matches(matches, inventory, patterns, option_name):
    """pyinfra's matching of --limit/--exclude patterns, with a plain host name looked up."""
    from pyinfra.api.exceptions import NoGroupError

    found, rest = [], []
    for pattern in patterns:
        try:
            inventory.get_group(pattern)
        except NoGroupError:
            if not any(c in pattern for c in "*?[") and pattern in inventory.hosts:
                found.append(inventory.hosts[pattern])
                continue
        rest.append(pattern)
    return list(set(found + (matches(inventory, rest, option_name) if rest else [])))


def deploy_file_known(path: str) -> None:
    """Give the deploy file being executed a module entry naming it, so that pyinfra's walk of
    the call stack at each operation finds its frames' module at once (see above)."""
    import os
    import sys
    import types

    once_per_process()
    name = "dockwright._deploy_file"
    if name not in sys.modules:
        module = types.ModuleType(name, "the deploy file pyinfra executes, named for inspect")
        module.__file__ = os.path.abspath(path)
        sys.modules[name] = module


def make_inventory(path: str, cwd: str):
    """An inventory file loaded as ``pyinfra PATH ...`` loads it (groups, data, connectors)."""
    from pyinfra.api import Config, Inventory, State

    once_per_process()
    from pyinfra_cli.inventory import make_inventory as load

    with state_in_use(State(Inventory.empty(), Config())):
        return load(path, cwd=cwd)


# Whether the run being started is a scheduled one (drift.py, diagnose.py): hosts in
# maintenance are then left out before pyinfra connects to them.
# A run's switches (Run's attributes: ``scheduled``, ``active_probes``), from the command that
# started it to the Run its State gets.
SWITCHES: "contextvars.ContextVar[dict]" = contextvars.ContextVar("dockwright_switches", default={})
# --progress compact: {"who": the tool's name}, filled in by the connect (its line, its beat).
COMPACT: "contextvars.ContextVar[dict | None]" = contextvars.ContextVar("dockwright_compact", default=None)


def run_cli(args: list[str], switches: dict | None = None, compact: str | None = None):
    """pyinfra's CLI with ``args`` in this process, its output swallowed (never parsed):
    (its State or None, the exception it raised or None). ``switches`` are set on the run's
    ``Run`` (``{"scheduled": True}``). With ``compact`` (the tool's name), one progress line
    every 20 s instead of pyinfra's lines per host."""
    import logging

    from pyinfra_cli.cli import cli

    once_per_process()
    pyinfra.is_cli = True
    raised = None
    token = SWITCHES.set(dict(switches or {}))
    progress = {"who": compact} if compact else None
    compact_token = COMPACT.set(progress)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(args=args, prog_name="pyinfra", standalone_mode=False)
    except SystemExit:
        pass
    except Exception as e:  # invalid data, a failed fact...: the caller words it
        raised = e
    finally:
        SWITCHES.reset(token)
        COMPACT.reset(compact_token)
        if progress and "beat" in progress:
            progress["line"]("done")
            progress["beat"].kill()
            logging.getLogger("pyinfra").setLevel(progress["level"])
    return current_state(), raised


def cli_entry() -> None:
    """pyinfra's console command itself, with ``sys.argv`` (bench.timed runs it in its process)."""
    from pyinfra_cli.main import main

    main()


def plan_json(state) -> list:
    """The plan of a --dry run as pyinfra's ``--json`` prints it, built from its State."""
    from pyinfra_cli.prints import build_plan_json

    return build_plan_json(state)
