"""Runs the verification suite (tests/verify) from the controller at the end of a deploy."""

import json
import os
import subprocess
import sys
from pathlib import Path

from pyinfra import logger
from pyinfra.api import FunctionCommand, operation

from dockwright import model

REPO = Path(__file__).resolve().parents[2]


def fleet_of(hosts) -> dict:
    """What the suite needs of each host of this run, taken from pyinfra itself (any kind of
    inventory, inline hosts included): connection data and the merged desired state
    (with --data overrides)."""
    out = {}
    for h in hosts:
        data = {k: v for k, v in h.data.dict().items() if isinstance(v, (str, int, bool, type(None)))}
        out[h.name] = {"desired": model.desired(h), "data": data}
    return out


def _suite(state, host):
    # Built when the suite runs, once: the hosts of this run as pyinfra has them then. A host
    # pyinfra has failed (unreachable, silent, an operation failed) is reported as such already;
    # verifying it would only wait on it again.
    fleet = fleet_of(sorted(state.active_hosts, key=lambda h: h.name))
    hosts = sorted(fleet)
    cmd = [sys.executable, "-m", "pytest", str(REPO / "tests" / "verify"), "-q", "-p",
           "no:cacheprovider", "-n", str(max(1, len(hosts))), "--dist", "loadgroup"]
    logger.info(f"--> Verification of {', '.join(hosts)}: {' '.join(cmd[3:])}")
    summary = REPO / "reports" / "verify-summary.txt"
    summary.unlink(missing_ok=True)
    env = dict(os.environ, DOCKWRIGHT_VERIFY_FLEET=json.dumps(fleet, default=str))
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    if summary.exists():
        logger.info(summary.read_text().rstrip())
    lines = (res.stdout + res.stderr).strip().splitlines()
    for line in lines:
        if line.startswith(("FAILED", "ERROR")):
            logger.info(f"    {line}")
    logger.info(f"    {lines[-1] if lines else 'verification printed nothing'}")
    return res.returncode == 0


@operation()
def suite():
    """
    Run the verification suite against every host of this run (with their connection data
    and merged data, ``--data`` included, handed over by pyinfra, whatever the inventory) and
    fail when any check fails or the suite cannot run at all.

    **Example:**

    .. code:: python

        verification.suite(name="verify", _run_once=True)
    """
    yield FunctionCommand(_suite, (), {})
