"""Runs the verification suite (dockwright/verify, by module name) from the controller at the end
of a deploy, in the project the deploy runs from (its reports/)."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pyinfra import logger
from pyinfra.api import FunctionCommand, operation

from dockwright import model

FLEET_FILE_ENV = "DOCKWRIGHT_VERIFY_FLEET_FILE"  # a path: the fleet itself never goes in the environment
WORKER_MB = 80  # what one pytest-xdist worker of the suite costs, with room (about 60 MB measured)


def fleet_of(hosts) -> dict:
    """What the suite needs of each host of this run, taken from pyinfra itself (any kind of
    inventory, inline hosts included): connection data and the merged desired state
    (with --data overrides)."""
    out = {}
    for h in hosts:
        data = {k: v for k, v in h.data.dict().items() if isinstance(v, (str, int, bool, type(None)))}
        # pyinfra's --sudo flag (the run's config) counts as the host's _sudo, as for the deploy.
        if getattr(getattr(getattr(h, "state", None), "config", None), "SUDO", False) and "_sudo" not in data:
            data["_sudo"] = True
        out[h.name] = {"desired": model.desired(h), "data": data}
    return out


def workers(hosts: int, asked: int = 0) -> int:
    """Hosts verified side by side: what the data asks (verify.workers), else what the
    controller's CPUs and free memory carry; never more than the hosts."""
    if asked:
        return max(1, min(hosts, asked))
    try:
        free_mb = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError):
        free_mb = 4096
    return max(1, min(hosts, 4 * (os.cpu_count() or 1), free_mb // 2 // WORKER_MB))


def write_fleet(fleet: dict) -> str:
    """The fleet in a private file (0600: it holds connection data); the caller removes it."""
    fd, path = tempfile.mkstemp(prefix="dockwright-verify-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(fleet, f, default=str)
    return path


def _suite(state, host):
    # Built when the suite runs, once: the hosts of this run as pyinfra has them then. A host
    # pyinfra has failed (unreachable, silent, an operation failed) is reported as such already;
    # verifying it would only wait on it again.
    fleet = fleet_of(sorted(state.active_hosts, key=lambda h: h.name))
    hosts = sorted(fleet)
    asked = fleet[hosts[0]]["desired"].get("verify", {}).get("workers", 0) if hosts else 0
    cmd = [sys.executable, "-m", "dockwright.verify", "-q", "-p", "no:cacheprovider",
           "-n", str(workers(len(hosts), asked)), "--dist", "loadgroup"]
    logger.info(f"--> Verification of {len(hosts)} host(s): {' '.join(cmd[2:])}")
    summary = Path.cwd() / "reports" / "verify-summary.txt"
    summary.unlink(missing_ok=True)
    path = write_fleet(fleet)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, **{FLEET_FILE_ENV: path}))
        lines = []
        for line in proc.stdout:  # the suite's own progress lines are shown as they come
            line = line.rstrip("\n")
            lines.append(line)
            if line.startswith("verify: "):
                logger.info(f"    {line}")
        rc = proc.wait()
    finally:
        os.unlink(path)
    if summary.exists():
        logger.info(summary.read_text().rstrip())
    for line in lines:
        if line.startswith(("FAILED", "ERROR")):
            logger.info(f"    {line}")
    logger.info(f"    {lines[-1] if lines else 'verification printed nothing'}")
    return rc == 0


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
