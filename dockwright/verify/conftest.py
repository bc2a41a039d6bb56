"""Verification suite: python -m dockwright.verify --inventory inventories/prod.py [--limit a,b] [-n N]

Every check runs once per host (hosts in parallel with pytest-xdist, one worker per host, one
SSH connection per host). A per-host, per-check summary is printed and written to
reports/verify-summary.txt and reports/verify.json.
"""

import os
import json
import sys
import threading
import time
from pathlib import Path

import pytest

from dockwright.verify.handoff import FLEET_FILE_ENV

from . import fleet, hooks

REPORTS = Path.cwd() / "reports"  # the project's, where the suite runs


def pytest_addoption(parser):
    parser.addoption("--inventory", default=None, help="pyinfra inventory file")
    parser.addoption("--limit", default="", help="comma-separated host names (default: all)")


def pytest_configure(config):
    inv = config.getoption("--inventory")
    only = [h for h in config.getoption("--limit").split(",") if h]
    given = os.environ.get(FLEET_FILE_ENV)
    if given:  # handed over by a deploy: its hosts, connection data and merged data, as run
        config._dw_targets = fleet.from_file(given, only)
    elif inv:
        config._dw_targets = fleet.load(inv, only)
    else:
        raise pytest.UsageError("the verification needs --inventory INVENTORY_FILE")
    # Connection data reaches ssh command lines here and reach checks on peers: validated first.
    from dockwright import hostdata
    problems = [p for t in config._dw_targets.values() for p in hostdata.connection_problems(t.name, t.data)]
    if problems:
        raise pytest.UsageError("invalid connection data:\n" + "\n".join(f"  - {p}" for p in problems))
    for t in config._dw_targets.values():
        t.hook = config.hook  # where a plugin may stand in for the host (dockwright.verify.hooks)


def pytest_addhooks(pluginmanager):
    pluginmanager.add_hookspecs(hooks)


def pytest_generate_tests(metafunc):
    if "target" in metafunc.fixturenames:
        targets = metafunc.config._dw_targets
        metafunc.parametrize("target", sorted(targets), indirect=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # One xdist worker per host: its checks run in order over one SSH connection, and its
    # reads are made once (xdist turns the mark into a "@group" node-id suffix after this
    # hook; pytest 9.2 drops that suffix, hence the pin in pyproject.toml).
    for item in items:
        if hasattr(item, "callspec") and "target" in item.callspec.params:
            item.add_marker(pytest.mark.xdist_group(item.callspec.params["target"]))


@pytest.fixture
def target(request):
    """The host under check: its desired state and a testinfra connection."""
    return request.config._dw_targets[request.param]


@pytest.fixture
def peers(request, target):
    """The other hosts of this run, for checks across hosts."""
    return [t for name, t in sorted(request.config._dw_targets.items()) if name != target.name]


def pytest_sessionfinish(session):
    # Each worker ends the probe servers it started (containers the checks share), then its
    # shared SSH connections. Clean-up does not judge the hosts: when it fails (the servers
    # end by themselves within 600 s), it says so and the checks' outcome stands.
    targets = getattr(session.config, "_dw_targets", {}).values()
    for t in targets:
        for step in (t.stop_server, t.close):
            try:
                step()
            except Exception as e:  # noqa: BLE001 - any failure here is only reported
                print(f"dockwright verification: clean-up on {t.name} failed: {e}", file=sys.stderr)
    fleet.remove_control_dir()


RESULTS: list[dict] = []  # filled on the controller (xdist sends every worker's reports there)


def _host_of(report) -> tuple[str, str]:
    """(check, host) of a check's report: the host as the check's ``target`` parameter gave it
    (a host name may hold "@" or "-": pytest_runtest_makereport below records it), the check as
    its function's name with its other parameters."""
    props = dict(report.user_properties)
    if "check" in props:
        return props["check"], props["host"]
    return report.nodeid.split("::")[-1].split("[")[0], "fleet"


def _host_of_nodeid(nodeid: str) -> str:
    """The host of a collected check, from xdist's group suffix ("...]@HOST": one group per host)."""
    return nodeid.rsplit("]@", 1)[1] if "]@" in nodeid else "fleet"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    if call.when == "setup":  # recorded once per check, before its first report is made
        params = dict(getattr(getattr(item, "callspec", None), "params", {}))
        host = params.pop("target", None)
        others = "-".join(str(getattr(v, "name", v)) for v in params.values())
        item.user_properties += [("check", item.originalname + (f"[{others}]" if others else "")),
                                 ("host", host or "fleet")]
    return (yield)


class Progress:
    """On the process that reports (xdist's controller): each host's result as its last check
    ends, and a line at least every EVERY seconds while checks run. Lines start "verify: "
    (the deploy shows them as they come)."""

    EVERY = 20

    def __init__(self):
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.failed: dict[str, set] = {}
        self.start = time.monotonic()
        self.stop = threading.Event()

    def expect(self, nodeids) -> None:
        if self.totals:
            return  # every worker collects the same checks
        for nodeid in nodeids:
            host = _host_of_nodeid(nodeid)
            self.totals[host] = self.totals.get(host, 0) + 1
        threading.Thread(target=self._tick, daemon=True).start()

    def report(self, report) -> None:
        host = _host_of(report)[1]
        if report.failed:
            self.failed.setdefault(host, set()).add(report.nodeid)
        if report.when != "teardown" or host not in self.totals:
            return
        self.done[host] = self.done.get(host, 0) + 1
        if self.done[host] == self.totals[host]:
            bad = len(self.failed.get(host, ()))
            self._say(f"{host} done: {self.totals[host]} checks, {bad} failed "
                      f"({self.hosts_done()}/{len(self.totals)} hosts)")

    def hosts_done(self) -> int:
        return sum(1 for h, n in self.totals.items() if self.done.get(h, 0) >= n)

    def _tick(self) -> None:
        while not self.stop.wait(self.EVERY):
            if self.hosts_done() == len(self.totals):
                return
            self._say(f"{time.monotonic() - self.start:.0f} s: {self.hosts_done()}/{len(self.totals)} hosts "
                      f"done, {sum(self.done.values())}/{sum(self.totals.values())} checks, "
                      f"{len(self.failed)} host(s) with failures so far")

    @staticmethod
    def _say(text: str) -> None:
        sys.stdout.write(f"\nverify: {text}\n")
        sys.stdout.flush()


PROGRESS = Progress()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    PROGRESS.expect(ids)


def pytest_collection_finish(session):
    if not hasattr(session.config, "workerinput") and not session.config.pluginmanager.hasplugin("dsession"):
        PROGRESS.expect(item.nodeid for item in session.items)  # without xdist


def pytest_runtest_logreport(report):
    PROGRESS.report(report)
    if report.when != "call" and report.outcome == "passed":
        return
    name, host = _host_of(report)
    message = ""
    if report.failed and hasattr(report.longrepr, "reprcrash"):
        message = str(report.longrepr.reprcrash.message)
    elif report.skipped and isinstance(report.longrepr, tuple):
        message = str(report.longrepr[2])
    RESULTS.append({
        "host": host, "check": name.removeprefix("test_"),
        # A check skipped by its fixture (its concern is off) is skipped, not failed in setup.
        "outcome": report.outcome if report.when == "call" or report.skipped else f"{report.outcome} in {report.when}",
        "message": message,
    })


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller has every report and writes the summary
    results = RESULTS
    if not results:
        return
    REPORTS.mkdir(exist_ok=True)
    lines = ["dockwright verification summary"]
    for host in sorted({r["host"] for r in results}):
        rows = [r for r in results if r["host"] == host]
        bad = [r for r in rows if r["outcome"] not in ("passed", "skipped")]
        skipped = sum(r["outcome"] == "skipped" for r in rows)
        lines.append(f"  {host}: {len(rows) - len(bad) - skipped} passed, {len(bad)} failed, "
                     f"{skipped} skipped")
        for r in sorted(rows, key=lambda r: r["check"]):
            mark = {"passed": "ok", "skipped": "skip"}.get(r["outcome"], "FAIL")
            msg = f"  {r['message'].splitlines()[0][:160]}" if r["message"] else ""
            lines.append(f"    [{mark:4}] {r['check']}{msg}")
    coverage = verification_coverage(sorted(getattr(config, "_dw_targets", {}) or {r["host"] for r in results}),
                                     results)
    lines.append(f"  coverage: {coverage['checked']} of {coverage['in_scope']} host(s) verified"
                 + "".join(f"; {h}: unreachable: {why}" for h, why in coverage["unreachable"].items()))
    text = "\n".join(lines)
    terminalreporter.write_line(text)
    from dockwright.cli import write_atomic
    write_atomic(REPORTS / "verify-summary.txt", text + "\n")
    write_atomic(REPORTS / "verify.json", json.dumps(
        {"schema_version": 2, "kind": "verify", "time": time.time(), "exitstatus": int(exitstatus),
         "hosts": coverage.pop("verdicts"), "coverage": coverage, "results": results}, indent=1) + "\n")


def verification_coverage(in_scope: list[str], results: list[dict]) -> dict:
    """What the verification covered: each host of the run verified (passed or failed, in
    "verdicts"), or unreachable (its checks could not run: ssh itself failed, named)."""
    from dockwright.coverage import Coverage
    unreachable = {}
    for r in results:
        if r["outcome"] not in ("passed", "skipped") and "unreachable, not checked" in (r.get("message") or ""):
            unreachable.setdefault(r["host"], r["message"].split("unreachable, not checked: ", 1)[-1][:300])
    out = Coverage(in_scope=in_scope, unreachable=unreachable).as_dict()
    failing = {r["host"] for r in results if r["outcome"] not in ("passed", "skipped")}
    out["verdicts"] = {h: "unreachable" if h in unreachable else "failed" if h in failing else "passed"
                       for h in in_scope}
    return out
