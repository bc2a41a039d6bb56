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
