"""pyinfra is pinned by tests, not by hope: the installed pyinfra is one whose internals
dockwright was checked against (pyinfra_internals.SUPPORTED), and pyproject's range says the same."""

import re
from importlib.metadata import version
from pathlib import Path

from dockwright import pyinfra_internals

REPO = Path(__file__).resolve().parents[2]


def test_the_installed_pyinfra_is_a_supported_one():
    assert pyinfra_internals.supported(version("pyinfra")), version("pyinfra")
    assert not pyinfra_internals.supported("3.11.0") and not pyinfra_internals.supported("2.9.2")


def test_pyproject_allows_exactly_the_supported_minor_versions():
    pin = re.search(r'"pyinfra>=([0-9.]+),<([0-9.]+)"', (REPO / "pyproject.toml").read_text())
    low, high = pin.group(1), pin.group(2)
    assert pyinfra_internals.supported(low) and not pyinfra_internals.supported(high + ".0")


def test_no_color_is_honoured_on_a_terminal():
    """pyinfra colours a terminal (the control, without NO_COLOR); with NO_COLOR set the same
    run on the same kind of terminal has no colour (config.py: once_per_process). util-linux's
    script gives the run its terminal."""
    import os
    import shlex
    import subprocess
    import sys

    command = shlex.join([str(Path(sys.executable).with_name("pyinfra")), "@local", "exec", "--", "true"])

    def on_a_terminal(**env) -> str:
        res = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=REPO, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=120,
                             env={**{k: v for k, v in os.environ.items() if k != "NO_COLOR"}, **env})
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        return res.stdout

    colour = re.compile(r"\x1b\[[0-9;]*m")  # SGR: colours and bold (not the spinner's line erase)
    assert colour.search(on_a_terminal())
    plain = on_a_terminal(NO_COLOR="1")
    assert not colour.search(plain) and "[@local] Connected" in plain
