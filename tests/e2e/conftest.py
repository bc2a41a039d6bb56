"""End-to-end scenarios on the VM lab (python -m lab). The files run in name order and build
on each other: the lab comes up, data is refused, the fleet is deployed, then changed by hand."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab import vm

REPO = Path(__file__).resolve().parents[2]
INVENTORY = "inventories/lab.py"
NO_VERIFY = ["--data", 'verify={"after_deploy": false}']


@pytest.fixture(scope="session", autouse=True)
def lab():
    """Brings the lab up (reusing running VMs); make e2e tears it down afterwards."""
    subprocess.run([sys.executable, "-m", "lab", "up"], cwd=REPO, check=True)


def lab_env(host_data: dict | None = None, **extra: str) -> dict:
    env = dict(os.environ, **extra)
    if host_data:
        env["DOCKWRIGHT_HOST_DATA"] = json.dumps(host_data)
    return env


def pyinfra(*args, host_data: dict | None = None, timeout: int = 1800, env: dict | None = None
            ) -> subprocess.CompletedProcess:
    env = lab_env(host_data, **(env or {}))
    res = subprocess.run([sys.executable, "-m", "pyinfra", INVENTORY, "deploy.py", "-y", "--json", *args],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    print(res.stdout[-6000:], res.stderr[-6000:])
    return res


def drift(*args, timeout: int = 1800, host_data: dict | None = None, env: dict | None = None
          ) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "drift.py", INVENTORY, *args], cwd=REPO,
                         capture_output=True, text=True, timeout=timeout, env=lab_env(host_data, **(env or {})))
    print(res.stdout[-6000:], res.stderr[-3000:])
    return res


def verify(*args, timeout: int = 1800, env: dict | None = None, host_data: dict | None = None
           ) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "pytest", "tests/verify", "-q", "-p", "no:cacheprovider",
                          "--inventory", INVENTORY, *args], cwd=REPO, capture_output=True, text=True,
                         timeout=timeout, env=lab_env(host_data, **(env or {})))
    print(res.stdout[-6000:], res.stderr[-3000:])
    return res


def failed_checks() -> list[str]:
    """The checks the last verification failed, with their messages, from its own report
    (reports/verify.json): shown in full when a scenario fails, as the captured output is cut."""
    try:
        results = json.loads((REPO / "reports" / "verify.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return ["no verification report"]
    return [f"{r['host']} {r['check']}: {r['message']}" for r in results
            if r["outcome"] not in ("passed", "skipped")]


def ssh(name: str, command: str, check: bool = True) -> str:
    return vm.run(name, command, check=check).stdout


def probe_image(name: str) -> str:
    """The verification's probe image on a lab VM, imported when missing: e2e's own containers
    run it (`sleep`, `serve`, steps), as the VMs have no other image."""
    from tests.verify import probe
    ssh(name, probe.ensure_command("x86_64"))
    return probe.image("x86_64")


def changed_ops(res: subprocess.CompletedProcess) -> list[str]:
    """Operations that changed a host, from pyinfra's own JSON results (--json), not its log."""
    start = res.stdout.find('{"plan"')
    assert start >= 0, "no JSON results from pyinfra"
    results = json.loads(res.stdout[start:res.stdout.rindex("}") + 1])["results"]
    return [op["name"] for op in results["operations"] if op["success"]]


def dockerd_started(name: str) -> str:
    return ssh(name, "systemctl show docker -p ExecMainStartTimestampMonotonic --value").strip()
