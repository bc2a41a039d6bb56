"""The verification suite's own pytest hooks: a plugin may answer a host's commands in its
place (a simulated host) and see every command and its answer (a recorder). The suite itself
knows nothing of either; bench's distribution registers the plugin that does both
(bench/verify_replay.py, in the ``pytest11`` entry-point group)."""

from pluggy import HookspecMarker  # pytest's own marker, for hooks of the suite

hookspec = HookspecMarker("pytest")


@hookspec(firstresult=True)
def pytest_dockwright_verify_run(target, command):
    """The answer to ``command`` on ``target`` (``rc``, ``stdout``, ``stderr``, ``exit_status``)
    in place of running it over SSH, or None to run it."""


@hookspec
def pytest_dockwright_verify_ran(target, command, result):
    """Every command the suite ran on a host, with its answer."""
