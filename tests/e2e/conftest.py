"""End-to-end scenarios on the VM lab (python -m lab). `make e2e` runs them in phases
(tests/e2e/lanes.py): the first deploy, then two lanes side by side on disjoint VMs (scenarios
marked ``@STANDALONE`` or ``@SWARM``, selected with ``--lane NAME``), then the whole-fleet
scenarios (``--lane fleet``). Plain ``pytest tests/e2e`` runs them all in file order, and each
file also runs alone (the ``converged`` fixture).

Every VM's console is watched while the suite runs (lab.monitor). When a VM's kernel panics, the
scenario running is ended at once (its processes, and the dead VM, are stopped), the lab is
brought up again (the VM re-converged once the fleet has been deployed), and that scenario is
run once more; the summary names each such re-run. A scenario that fails without a panic is
never re-run, and one that fails again fails the suite.
"""

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading

import pytest
from _pytest.runner import runtestprotocol

from lab import config as lab_config, monitor as lab_monitor, vm
from dockwright.cli import op_name

from .lanes import INVENTORY, LANES, NO_VERIFY, REPO
HOSTS = ("lab1", "lab2", "lab3")
# What a run that must change nothing would change: managed files, networks, a sysctl, the
# loaded profile and dockerd's start time (compared before and after).
SNAPSHOT = ("for f in /etc/sysctl.d/*.conf /etc/docker/daemon.json /etc/apparmor.d/dockwright-default "
            "/etc/docker/seccomp/*.json; do [ -f $f ] && sha256sum $f; done; "
            "docker network ls --format '{{.Name}} {{.ID}}'; sysctl -n net.core.somaxconn; "
            "grep dockwright /sys/kernel/security/apparmor/profiles; "
            "systemctl show docker -p ExecMainStartTimestampMonotonic")


MONITOR = lab_monitor.Monitor()
_CHILDREN: set = set()               # process groups of the running scenario's commands
_CHILDREN_LOCK = threading.Lock()
RERUNS: list[tuple[str, list, str]] = []  # (scenario, panics, its first failure)
# A whole-fleet deploy has passed (in this process, or in the setup phase before it): recovery
# re-converges, and the converged fixture has nothing to do.
SESSION = {"deployed": os.environ.get("DOCKWRIGHT_E2E_DEPLOYED") == "1"}
# The lane this process runs (lanes.py), and the VMs it alone drives: a panic of another VM is
# the other lane's, and it neither ends nor re-runs this lane's scenario.
LANE = os.environ.get("DOCKWRIGHT_E2E_LANE", "")
VMS = tuple(os.environ.get("DOCKWRIGHT_E2E_VMS", "lab1,lab2,lab3").split(","))
STANDALONE = pytest.mark.lane("standalone")
SWARM = pytest.mark.lane("swarm")


class LabPanic(Exception):
    """A lab VM's kernel died while the scenario ran (not the scenario's fault)."""


def _ours(panics) -> list:
    return [p for p in panics if p.vm in VMS]


def _end_children(panic) -> None:
    if not _ours([panic]):
        return
    with _CHILDREN_LOCK:
        for pgid in list(_CHILDREN):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)


def pytest_addoption(parser):
    parser.addoption("--lane", choices=(*LANES, "fleet"), default=None,
                     help="only the scenarios of this lane; fleet: those of no lane (default: all)")


def pytest_configure(config):
    config.addinivalue_line("markers", "lane(name): the scenario touches only that lane's VMs "
                                       "(tests/e2e/lanes.py) and may run beside the other lane")


def pytest_collection_modifyitems(config, items):
    lane = config.getoption("--lane")
    for item in items:
        mark = item.get_closest_marker("lane")
        if mark and mark.args[0] not in LANES:
            raise pytest.UsageError(f"{item.nodeid}: unknown lane {mark.args[0]!r} (lanes: {', '.join(LANES)})")
    if lane is None:
        return
    keep = [i for i in items if (m := i.get_closest_marker("lane")) and m.args[0] == lane
            or lane == "fleet" and not m]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


def pytest_sessionstart(session):
    MONITOR.on_panic(_end_children)
    MONITOR.start()


def pytest_sessionfinish(session):
    MONITOR.close()


@pytest.fixture(scope="session", autouse=True)
def lab():
    """Brings the lab up (reusing running VMs), unless lanes.py has; make e2e tears it down
    afterwards."""
    if os.environ.get("DOCKWRIGHT_E2E_LAB") != "up":
        subprocess.run([sys.executable, "-m", "lab", "up"], cwd=REPO, check=True)


# VMs a scenario left stopped (a crashed kernel): brought up before the next scenario, if any.
DOWN: set = set()


@pytest.fixture(autouse=True)
def needs_lab_up():
    if DOWN:
        print(f"e2e: bringing {', '.join(sorted(DOWN))} up again for this scenario", flush=True)
        _bring_back(sorted(DOWN))
        DOWN.clear()


@pytest.fixture(scope="module")
def converged():
    """The lab in its declared state before a file's scenarios: deployed once in this session
    (the first deploy's scenario does it in a full run), so that each file also runs alone."""
    if not SESSION["deployed"]:
        print("e2e: converging the lab for this file's scenarios", flush=True)
        res = pyinfra(*NO_VERIFY)
        assert res.returncode == 0, "the lab does not converge: " + res.stderr[-2000:]


def run_watched(argv: list[str], timeout: int, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run for the scenario's commands: in a process group of its own that the
    console monitor ends when a VM panics; then LabPanic names the VM."""
    mark = MONITOR.mark()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, **kwargs)
    with _CHILDREN_LOCK:
        _CHILDREN.add(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN.discard(proc.pid)
    panics = _ours(MONITOR.since(mark))
    if panics:
        print(out[-3000:], err[-3000:])
        raise LabPanic("VM panic while the command ran: " + "; ".join(
            f"{p} ({' | '.join(p.lines[:2])})" for p in panics))
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _recover(panics) -> None:
    names = sorted({p.vm for p in panics})
    print(f"e2e: recovering the lab after a VM panic ({', '.join(map(str, panics))})", flush=True)
    _bring_back(names)


def _bring_back(names: list[str]) -> None:
    """The lab up again, and these VMs re-converged once the fleet has been deployed; one at a
    time (the other lane may be bringing the lab up as well)."""
    with open(lab_config.RUN_DIR / "e2e-recover.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        subprocess.run([sys.executable, "-m", "lab", "up"], cwd=REPO, check=True)
        if SESSION["deployed"]:
            res = subprocess.run([sys.executable, "-m", "pyinfra", INVENTORY, "deploy.py", "-y", *NO_VERIFY,
                                  "--limit", ",".join(names)], cwd=REPO, capture_output=True, text=True, timeout=1800)
            print(f"e2e: re-converged {', '.join(names)}: exit {res.returncode}", flush=True)


def _crash_on_purpose(item) -> None:
    """DOCKWRIGHT_E2E_CRASH=SCENARIO@VM[+SECONDS]: crash VM's kernel SECONDS (default 20) into the
    first run of each scenario whose id contains SCENARIO, as a real panic would (the monitor
    is not told): shows the panic being seen, recovered from and re-run."""
    spec = os.environ.get("DOCKWRIGHT_E2E_CRASH")
    if not spec or any(nodeid == item.nodeid for nodeid, _, _ in RERUNS):
        return
    which, _, rest = spec.partition("@")
    name, _, delay = rest.partition("+")
    if which in item.nodeid:
        def crash():
            print(f"e2e: crashing {name} on purpose ({item.nodeid})", flush=True)
            with contextlib.suppress(Exception):  # the session dies with the kernel
                vm.run(name, "echo c > /proc/sysrq-trigger", check=False, timeout=30)
        threading.Timer(float(delay or 20), crash).start()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """Runs the scenario; when it failed while a VM panicked, recovers and runs it once more."""
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    _crash_on_purpose(item)
    mark = MONITOR.mark()
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    panics = _ours(MONITOR.since(mark))
    if panics and any(r.failed for r in reports):
        first = next(str(r.longrepr).splitlines()[-1] for r in reports if r.failed)
        RERUNS.append((item.nodeid, panics, first))
        _recover(panics)
        item._initrequest()
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    deliberate = [p for p in MONITOR.panics if p.expected]
    if RERUNS:
        tr.section("re-runs after a VM panic")
        for nodeid, panics, first in RERUNS:
            tr.write_line(f"{nodeid}: re-run after a VM panic ({'; '.join(map(str, panics))}); "
                          f"first failure: {first[:200]}")
            for p in panics:
                tr.write_line("    " + "\n    ".join(p.lines))
    tr.write_line(f"e2e: {len(RERUNS)} scenario(s) re-run after a VM panic; console monitor saw "
                  f"{len(MONITOR.panics) - len(deliberate)} panic(s) and {len(deliberate)} deliberate crash(es)")


def lab_env(host_data: dict | None = None, **extra: str) -> dict:
    env = dict(os.environ, **extra)
    if host_data:
        env["DOCKWRIGHT_HOST_DATA"] = json.dumps(host_data)
    return env


def pyinfra(*args, host_data: dict | None = None, timeout: int = 1800, env: dict | None = None
            ) -> subprocess.CompletedProcess:
    env = lab_env(host_data, **(env or {}))
    res = run_watched([sys.executable, "-m", "pyinfra", INVENTORY, "deploy.py", "-y", "--json", *args],
                      timeout, env)
    print(res.stdout[-6000:], res.stderr[-6000:])
    if res.returncode == 0 and not host_data and not {"--limit", "--dry"} & set(args):
        SESSION["deployed"] = True
    return res


def drift(*args, timeout: int = 1800, host_data: dict | None = None, env: dict | None = None
          ) -> subprocess.CompletedProcess:
    # drift.py holds one lock per inventory; the two lanes drive disjoint hosts, as two shards
    # would, so each lane has its own.
    lock = ["--lock", str(lab_config.RUN_DIR / f"e2e-drift-{LANE}.lock")] if LANE and "--lock" not in args else []
    res = run_watched([sys.executable, "drift.py", INVENTORY, *lock, *args], timeout,
                      lab_env(host_data, **(env or {})))
    print(res.stdout[-6000:], res.stderr[-3000:])
    return res


def verify(*args, timeout: int = 1800, env: dict | None = None, host_data: dict | None = None
           ) -> subprocess.CompletedProcess:
    """The verification suite on the lab; several hosts are verified side by side (one xdist
    worker each), as the deploy's own verification does."""
    limit = args[args.index("--limit") + 1].split(",") if "--limit" in args else ["lab1", "lab2", "lab3"]
    side_by_side = ["-n", str(len(limit)), "--dist", "loadgroup"] if len(limit) > 1 else []
    res = run_watched([sys.executable, "-m", "dockwright.verify", "-q", "-p", "no:cacheprovider",
                       "--inventory", INVENTORY, *side_by_side, *args], timeout, lab_env(host_data, **(env or {})))
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
    from dockwright import probe
    ssh(name, probe.ensure_command("x86_64"))
    return probe.image("x86_64")


def changed_ops(res: subprocess.CompletedProcess) -> list[str]:
    """Operations that changed a host, from pyinfra's own JSON results (--json), not its log."""
    start = res.stdout.find('{"plan"')
    assert start >= 0, "no JSON results from pyinfra"
    results = json.loads(res.stdout[start:res.stdout.rindex("}") + 1])["results"]
    return [op_name(op) for op in results["operations"] if op["success"]]


def dockerd_started(name: str) -> str:
    return ssh(name, "systemctl show docker -p ExecMainStartTimestampMonotonic --value").strip()
