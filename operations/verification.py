"""Runs the verification suite (tests/verify) from the controller at the end of a deploy."""

import os
import subprocess
import sys
from pathlib import Path

from pyinfra import logger
from pyinfra.api import FunctionCommand, operation

REPO = Path(__file__).resolve().parent.parent


def inventory_path() -> str | None:
    """The inventory file pyinfra was started with (DOCKWRIGHT_INVENTORY overrides)."""
    if os.environ.get("DOCKWRIGHT_INVENTORY"):
        return os.environ["DOCKWRIGHT_INVENTORY"]
    for arg in sys.argv[1:]:
        if arg.endswith(".py") and Path(arg).is_file() and Path(arg).name != "deploy.py":
            return arg
    return None


def _suite(state, host, inventory: str, hosts: list[str]):
    cmd = [sys.executable, "-m", "pytest", str(REPO / "tests" / "verify"), "-q", "-p",
           "no:cacheprovider", "--inventory", inventory, "--limit", ",".join(hosts), "-n", str(max(1, len(hosts))), "--dist", "loadgroup"]
    logger.info(f"--> Verification: {' '.join(cmd[3:])}")
    summary = REPO / "reports" / "verify-summary.txt"
    summary.unlink(missing_ok=True)
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if summary.exists():
        logger.info(summary.read_text().rstrip())
    lines = (res.stdout + res.stderr).strip().splitlines()
    for line in lines:
        if line.startswith(("FAILED", "ERROR")):
            logger.info(f"    {line}")
    logger.info(f"    {lines[-1] if lines else 'verification printed nothing'}")
    return res.returncode == 0


@operation()
def suite(inventory: str, hosts: list[str]):
    """
    Run the verification suite against ``hosts`` and fail when any check fails.

    **Example:**

    .. code:: python

        verification.suite(name="verify", inventory="inventories/prod.py", hosts=["web1"],
                           _run_once=True)
    """
    yield FunctionCommand(_suite, (inventory, hosts), {})
