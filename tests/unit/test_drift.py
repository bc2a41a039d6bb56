"""drift.py: items joined to pyinfra's plan by operation, reachability from pyinfra's state,
exit codes and metrics."""

import pytest

from dockwright.commands import drift
from dockwright import concerns
from dockwright import cli


class H:
    def __init__(self, name):
        self.name = name


class PlannedState:
    """The parts of pyinfra's State drift.py reads."""

    def __init__(self, hosts, activated, failed=(), limit=None):
        self.inventory = [H(n) for n in hosts]
        self.activated_hosts = {h for h in self.inventory if h.name in activated}
        self.failed_hosts = {h for h in self.inventory if h.name in failed}
        self._limit = limit

    def is_host_in_limit(self, h):
        return self._limit is None or h.name in self._limit


def test_firewall_only_drift_is_one_item_not_an_extra_networks_item():
    # The DOCKER-USER operation is named "networks: ..." but records concern "firewall".
    plan = [{"op_hash": "op-fw", "name": "networks: DOCKER-USER port policy",
             "hosts_with_change": ["lab1"], "hosts_with_conditional_change": []}]
    items = [{"host": "lab1", "op": "op-fw", "concern": "firewall", "key": "DOCKER-USER", "desired": 1, "actual": 0}]
    per_host = drift.drift_items({"plan": plan, "items": items})
    assert [i["concern"] for i in per_host["lab1"]] == ["firewall"]


def test_a_change_no_item_explains_is_named_by_its_operation():
    plan = [{"op_hash": "op-x", "name": "swarm: join as worker", "hosts_with_change": ["a-much-longer-name"],
             "hosts_with_conditional_change": []}]
    per_host = drift.drift_items({"plan": plan, "items": []})
    assert per_host == {"a-much-longer-name": [{"host": "a-much-longer-name", "op": "op-x", "concern": "swarm",
                                                 "key": "swarm: join as worker", "desired": None, "actual": None}]}


def test_unreachable_hosts_come_from_pyinfra_state_whatever_their_names():
    # Two unreachable hosts with names of different lengths.
    state = PlannedState(["lab1", "lab2-long-name", "x"], activated={"lab1"}, failed={"lab2-long-name", "x"})
    out = drift.outcome(state, [], [], None)
    assert out["unreachable"] == {"lab2-long-name": "did not connect", "x": "did not connect"}
    assert out["hosts"] == ["lab1", "lab2-long-name", "x"] and out["error"] is None


def test_hosts_outside_the_limit_are_not_unreachable_and_a_host_that_failed_planning_fails_alone():
    state = PlannedState(["lab1", "lab2", "lab3"], activated={"lab1", "lab3"}, failed={"lab3"}, limit={"lab1", "lab3"})
    out = drift.outcome(state, [], [], None)
    assert out["unreachable"] == {} and out["hosts"] == ["lab1", "lab3"]
    assert out["error"] is None  # the run's own error: none; lab3 failed alone
    assert out["failed"] == {"lab3": "failed while planning (pyinfra's output says why)"}


def prom(report: dict, success: float | None = None) -> dict:
    """The drift textfile's samples as Prometheus' own parser reads them: {(name, labels): value}."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from dockwright import metrics
    report = with_coverage(report)
    text = generate_latest(metrics.drift_registry(report, success, concerns.drift_keys())).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def with_coverage(report: dict) -> dict:
    from dockwright.coverage import Coverage
    report = {"failed": {}, "skipped": {}, "not_checked": {}, "unreachable": {}, "duration": 1.0, **report}
    cov = Coverage(in_scope=report["hosts"], unreachable=report["unreachable"], failed=report["failed"],
                   skipped=report["skipped"], not_checked=report["not_checked"])
    return {**report, "coverage": cov.as_dict()}


def test_metrics_mark_unreachable_hosts_and_count_items():
    report = {"drift": {"lab1": [{"concern": "sysctl"}, {"concern": "sysctl"}]}, "hosts": ["lab1", "lab2"],
              "unreachable": {"lab2": "cannot connect: refused"}, "exit_code": 1, "finished": 100.0, "duration": 5.0}
    got = prom(report, success=50.0)
    assert got[("dockwright_drift_items", (("concern", "sysctl"), ("host", "lab1")))] == 2
    assert got[("dockwright_drift_host_reachable", (("host", "lab2"),))] == 0
    assert got[("dockwright_drift_host_reachable", (("host", "lab1"),))] == 1
    assert got[("dockwright_drift_host_checked", (("host", "lab2"),))] == 0
    assert not any(k[0] == "dockwright_drift_items" and ("host", "lab2") in k[1] for k in got)  # never "0 drift"
    assert got[("dockwright_drift_last_success_timestamp_seconds", ())] == 50.0
    assert got[("dockwright_drift_hosts", (("state", "unreachable"),))] == 1
    assert got[("dockwright_drift_coverage_ratio", ())] == 0.5


def test_limit_is_passed_one_host_per_flag():
    assert drift.limit_args("lab1,lab2") == ["--limit", "lab1", "--limit", "lab2"] and drift.limit_args(None) == []


def test_shards_are_stable_and_cover_every_host_once():
    names = [f"web-{i:03d}.example.net" for i in range(500)]
    shards = {n: cli.shard_of(n, 4) for n in names}
    assert set(shards.values()) == {1, 2, 3, 4}
    assert all(80 < list(shards.values()).count(k) < 170 for k in (1, 2, 3, 4))  # roughly even
    # A host keeps its shard when others come and go: it depends on its own name only.
    assert {n: cli.shard_of(n, 4) for n in names[:10]} == {n: shards[n] for n in names[:10]}


def test_parse_shard_refuses_nonsense():
    import argparse
    import pytest
    assert cli.parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "x/4"):
        with pytest.raises((argparse.ArgumentTypeError, ValueError)):
            cli.parse_shard(bad)


def _shard_report(hosts, drift_hosts=(), unreachable=(), code=0, error=None, t=100.0, shard=(1, 1)):
    return {"inventory": "inv.py", "started": t, "finished": t + 10, "hosts": list(hosts),
            "drift": {h: [{"host": h, "concern": "sysctl", "key": "k", "desired": 1, "actual": 0}] for h in drift_hosts},
            "unreachable": {h: "cannot connect" for h in unreachable}, "failed": {}, "skipped": {}, "not_checked": {},
            "error": error, "fixed": False, "exit_code": code, "shard": list(shard)}


def test_merge_follows_the_exit_code_rules():
    clean = _shard_report(["a", "b"], shard=(1, 2))
    drifted = _shard_report(["c"], drift_hosts=["c"], code=2, t=105.0, shard=(2, 2))
    failed = _shard_report(["d"], unreachable=["d"], code=1, error="x", shard=(3, 3))
    assert drift.merge([clean, _shard_report(["c"], shard=(2, 2))])["exit_code"] == 0
    both = drift.merge([clean, drifted])
    assert both["exit_code"] == 2 and both["hosts"] == ["a", "b", "c"] and list(both["drift"]) == ["c"]
    assert both["started"] == 100.0 and both["finished"] == 115.0
    worst = drift.merge([dict(clean, shard=[1, 3]), dict(drifted, shard=[2, 3]), failed])
    assert worst["exit_code"] == 1 and worst["unreachable"] == {"d": "cannot connect"} and worst["error"] == "shard 3: x"
    got = prom(worst)
    assert got[("dockwright_drift_host_reachable", (("host", "d"),))] == 0
    assert got[("dockwright_drift_exit_code", ())] == 1


def test_merge_command_writes_the_fleet_report(tmp_path):
    import json
    files = []
    for i, r in enumerate([_shard_report(["a"], shard=(1, 2)), _shard_report(["b"], drift_hosts=["b"], code=2, shard=(2, 2))]):
        f = tmp_path / f"shard{i}.json"
        f.write_text(json.dumps(r))
        files.append(str(f))
    code = drift.main(["merge", *files, "--json", str(tmp_path / "fleet.json"), "--metrics", str(tmp_path / "fleet.prom")])
    assert code == 2
    assert json.loads((tmp_path / "fleet.json").read_text())["hosts"] == ["a", "b"]
    assert 'dockwright_drift_items{concern="sysctl",host="b"} 1.0' in (tmp_path / "fleet.prom").read_text()


def test_a_missing_or_repeated_shard_fails_the_fleet_naming_it():
    one, two = _shard_report(["a"], shard=(1, 3)), _shard_report(["b"], shard=(2, 3))
    missing = drift.merge([one, two])  # shard 3 crashed, or could not write its report
    assert missing["exit_code"] == 1 and missing["error"] == "shard 3/3 missing"
    twice = drift.merge([one, one, two, _shard_report(["c"], shard=(3, 3))])
    assert twice["exit_code"] == 1 and twice["error"] == "shard 1/3 given 2 times"
    mixed = drift.merge([one, _shard_report(["b"], shard=(2, 2))])
    assert mixed["exit_code"] == 1 and mixed["error"] == "shards of different splits: N = 2, 3"
    assert drift.merge([one, two, _shard_report(["c"], shard=(3, 3))])["exit_code"] == 0  # control


def test_a_usage_error_never_reads_as_drift(capsys):
    for argv in (["--bogus", "x"], [], ["inv.py", "--shard", "5/4"], ["merge"], ["inv.py", "--data", "foo"]):
        with pytest.raises(SystemExit) as exit_:
            drift.main(argv)
        assert exit_.value.code == cli.EXIT_USAGE != drift.EXIT_DRIFT, argv


def _closed_port() -> int:
    import socket
    with socket.socket() as s:  # bound, never listening: connections are refused at once
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_pyinfra_run_with_unreachable_hosts_reports_them_and_never_prompts(tmp_path):
    # pyinfra's CLI asks "hosts failed to connect, continue?" on stdin unless it runs
    # non-interactively; stdin is closed here, as under a timer or in CI.
    import subprocess
    import sys
    port = _closed_port()
    # One reachable host (this machine) and two that refuse: pyinfra only asks when some hosts
    # connected and others did not.
    from .helpers import local_and_ssh_inventory
    inventory = local_and_ssh_inventory(tmp_path / "ghosts.py", {
        name: {"ssh_hostname": "127.0.0.1", "ssh_port": port} for name in ("ghost", "a-ghost-with-a-longer-name")})
    res = subprocess.run([sys.executable, "drift.py", inventory, "--json", str(tmp_path / "r.json")],
                         cwd=cli.CHECKOUT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert res.returncode == drift.EXIT_FAILURE, res.stderr[-2000:]
    assert "ghost: UNREACHABLE" in res.stdout and "a-ghost-with-a-longer-name: UNREACHABLE" in res.stdout
    assert "@local: no drift" in res.stdout
    assert "Traceback" not in res.stderr
    import json
    report = json.loads((tmp_path / "r.json").read_text())
    assert sorted(report["unreachable"]) == ["a-ghost-with-a-longer-name", "ghost"]
    assert all(why.startswith("cannot connect") for why in report["unreachable"].values()), report["unreachable"]
    assert report["coverage"]["in_scope"] == 3 and report["coverage"]["checked"] == 1


def test_error_text_survives_pyinfra_internal_error_wrapper():
    from pyinfra_cli.exceptions import UnexpectedInternalError
    try:
        raise EOFError("EOF when reading a line")
    except EOFError as e:
        wrapped = UnexpectedInternalError(e)
    from dockwright.pyinfra_internals import error_text
    assert error_text(wrapped) == "EOF when reading a line"


def test_the_lock_is_per_inventory_private_and_never_follows_a_link(tmp_path, monkeypatch, capsys):
    import fcntl
    import os
    monkeypatch.setattr(cli.os.path, "isdir", lambda p: False if p == "/run/lock" else os.path.isdir(p))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    prod, staging = cli.lock_path("inventories/prod.py", None), cli.lock_path("inventories/staging.py", None)
    assert prod != staging and prod.parent == staging.parent == tmp_path / "dockwright"
    assert cli.lock_path("inventories/prod.py", (1, 4)) != cli.lock_path("inventories/prod.py", (2, 4))
    assert oct(os.stat(tmp_path / "dockwright").st_mode & 0o777) == "0o700"

    # Held by another run of the same inventory: exit 1, not 2.
    fd = os.open(prod, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    assert drift.main(["inventories/prod.py"]) == drift.EXIT_FAILURE
    assert "another run holds" in capsys.readouterr().err
    os.close(fd)

    # A link planted at the lock's name is never followed (nor its target truncated).
    target = tmp_path / "precious"
    target.write_text("keep me")
    link = tmp_path / "planted.lock"
    link.symlink_to(target)
    assert drift.main(["inventories/prod.py", "--lock", str(link)]) == drift.EXIT_FAILURE
    assert "cannot open the lock" in capsys.readouterr().err and target.read_text() == "keep me"

    # A lock directory others can write is refused, naming it.
    os.chmod(tmp_path / "dockwright", 0o777)
    assert drift.main(["inventories/prod.py"]) == drift.EXIT_FAILURE
    assert "not a directory of this user's alone" in capsys.readouterr().err


def test_without_a_runtime_dir_the_lock_is_under_the_users_home_never_a_shared_temp_dir(tmp_path, monkeypatch):
    """cron and CI have no XDG_RUNTIME_DIR: the lock then lives in the systemd unit's own
    directory, else under the user's home, where no other local user can create it first."""
    import os
    monkeypatch.setattr(cli.os.path, "isdir", lambda p: False if p == "/run/lock" else os.path.isdir(p))
    for var in ("XDG_RUNTIME_DIR", "RUNTIME_DIRECTORY", "STATE_DIRECTORY", "XDG_STATE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cli.lock_dir() == tmp_path / "home" / ".local" / "state" / "dockwright" / "locks"
    assert oct(os.stat(cli.lock_dir()).st_mode & 0o777) == "0o700"
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "unit-state"))
    (tmp_path / "unit-state").mkdir(mode=0o700)
    assert cli.lock_dir() == tmp_path / "unit-state" / "locks"
    # Another user's directory at the name is refused, never used (here: one others can write).
    monkeypatch.delenv("STATE_DIRECTORY")
    os.chmod(cli.lock_dir(), 0o777)
    with pytest.raises(PermissionError, match="not a directory of this user's alone"):
        cli.lock_dir()


def test_metrics_keep_a_zero_series_per_clean_host_count_fixed_items_and_escape_labels(tmp_path):
    weird = 'we"ird\\name\nx'
    report = {"hosts": ["clean", weird, "gone", "refusing"], "unreachable": {"gone": "cannot connect"},
              "failed": {"refusing": "refused: x"}, "fixed": True, "fixed_hosts": [weird], "exit_code": 1,
              "finished": 10.0, "duration": 1.0, "drift": {weird: [{"concern": "sysctl"}, {"concern": "docker"}]}}
    got = prom(report)
    assert got[("dockwright_drift_items", (("concern", "sysctl"), ("host", "clean")))] == 0  # a clean host's series stays
    assert got[("dockwright_drift_items", (("concern", "docker"), ("host", weird)))] == 1  # escaped, read back whole
    assert got[("dockwright_drift_fixed_items", (("host", weird),))] == 2
    assert got[("dockwright_drift_fixed_items", (("host", "clean"),))] == 0
    assert got[("dockwright_drift_host_failed", (("host", "refusing"),))] == 1
    assert not any(k[0] == "dockwright_drift_items" and ("host", "gone") in k[1] for k in got)


def test_the_set_of_series_is_the_same_for_a_clean_run_and_a_drifted_one():
    clean = {"hosts": ["a", "b"], "drift": {}, "exit_code": 0, "finished": 10.0}
    drifted = {"hosts": ["a", "b"], "drift": {"a": [{"concern": "networks"}]}, "exit_code": 2, "finished": 10.0}
    assert set(prom(clean)) == set(prom(drifted))
    assert {c for (n, labels) in prom(clean) if n == "dockwright_drift_items" for k, c in labels if k == "concern"} \
        == set(concerns.drift_keys())


def test_last_success_advances_only_with_a_verdict_that_holds(tmp_path):
    from dockwright import metrics
    path = tmp_path / "drift.prom"
    args = type("A", (), {"json": None, "metrics": str(path)})
    ok = with_coverage({"hosts": ["a"], "drift": {}, "exit_code": 0, "finished": 1000.0, "started": 990.0})
    drift._write_outputs(args, ok)
    assert metrics.last_success(path) == 1000.0
    failed = with_coverage({"hosts": ["a"], "drift": {}, "exit_code": 1, "finished": 2000.0, "started": 1990.0,
                            "not_checked": {"a": "the run stopped"}})
    drift._write_outputs(args, failed)
    got = {(s.name, tuple(s.labels.items())): s.value for f in __import__("prometheus_client.parser", fromlist=["x"])
           .text_string_to_metric_families(path.read_text()) for s in f.samples}
    assert got[("dockwright_drift_last_success_timestamp_seconds", ())] == 1000.0
    assert got[("dockwright_drift_last_run_timestamp_seconds", ())] == 2000.0
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_paths_are_the_callers_and_pyinfra_flags_are_passed_on(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(drift, "run", lambda args: seen.update(vars(args)) or 0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert drift.main(["inv.py", "--json", "out/r.json", "--metrics", "m.prom", "--data", "a=1",
                       "--data", "b=2", "--sudo", "--parallel", "7"]) == 0
    assert seen["json"] == str(tmp_path / "out" / "r.json") and seen["metrics"] == str(tmp_path / "m.prom")
    args = type("A", (), seen)
    assert drift.pyinfra_flags(args) == ["--data", "a=1", "--data", "b=2", "--sudo", "--parallel", "7"]


def test_a_plan_shows_each_key_it_would_change_while_pyinfra_plans_and_only_then():
    from dockwright import run
    from dockwright.plans import Plan
    from dockwright import outcomes

    from .harness import FakeHost

    plan = Plan()
    plan.differs("live: net.core.somaxconn", "65535", "1024")
    host = FakeHost(name="a")
    outcomes.record(host, "sysctl", plan)
    outcomes.record(host, "sysctl", plan)  # pyinfra plans an operation again when it executes
    host.state.is_executing = True
    outcomes.record(host, "sysctl", plan)
    assert host.logged == ["would change [sysctl] live: net.core.somaxconn: desired '65535', actual '1024'"]
    assert len(outcomes.collected(host.state)) == 1
    quiet = FakeHost(name="c")
    run.of(quiet).scheduled = True  # drift.py's own run lists the items itself
    outcomes.record(quiet, "sysctl", plan)
    assert quiet.logged == [] and len(outcomes.collected(quiet.state)) == 1
    assert outcomes.collected(FakeHost(name="d").state) == []  # another run found nothing


def _fix_with(monkeypatch, tmp_path, operations, failed_hosts=(), declared=None, checks=None, rc=1):
    """drift.fix against a stand-in for the fix's pyinfra process: its JSON results, the hosts
    its liveness declared, and the verification's report."""
    import json
    import subprocess
    from types import SimpleNamespace

    monkeypatch.setattr(drift, "project", lambda: tmp_path)
    (tmp_path / "reports").mkdir(parents=True, exist_ok=True)

    def fake_run(cmd, **kwargs):
        from dockwright import liveness
        with open(kwargs["env"][liveness.OUTCOME_ENV], "a") as f:
            for h, why in (declared or {}).items():
                f.write(f"{h}\t{why}\n")
        if checks is not None:
            (tmp_path / "reports" / "verify.json").write_text(json.dumps({"time": 9e12, "results": checks}))
        payload = {"plan": [], "results": {"operations": operations, "failed_hosts": list(failed_hosts)}}
        return SimpleNamespace(returncode=rc, stdout="log line\n" + json.dumps(payload), stderr="")
    monkeypatch.setattr(subprocess, "run", fake_run)
    return drift.fix("inv.py", ["lab1", "lab2", "lab3"], [])


def test_a_fix_names_the_host_lost_in_it_and_the_others_fixed(monkeypatch, tmp_path):
    ops = [{"name": "sysctl: owned file, live values, boot order", "error": ["lab3"], "success": ["lab1", "lab2"]},
           {"name": drift.VERIFY_OP, "error": ["lab1"], "success": []}]
    checks = [{"host": "lab1", "check": "sysctl_live_and_at_boot", "outcome": "passed", "message": ""},
              {"host": "lab3", "check": "sysctl_live_and_at_boot", "outcome": "failed",
               "message": "lab3: unreachable, not checked"}]
    out = _fix_with(monkeypatch, tmp_path, ops, failed_hosts=["lab1", "lab3"],  # lab1: where the suite failed
                    declared={"lab3": "no answer over SSH for 60 s (keepalive every 15 s)"}, checks=checks)
    assert out["fixed"] == ["lab1", "lab2"]  # the suite ran on lab1 and failed: lab1 is not blamed
    assert out["unreachable"] == {"lab3": "lost during the fix: no answer over SSH for 60 s (keepalive every 15 s)"}
    assert out["failed"] == {}


def test_a_host_that_fails_its_own_checks_after_the_fix_carries_the_blame(monkeypatch, tmp_path):
    ops = [{"name": drift.VERIFY_OP, "error": ["lab1"], "success": []}]
    checks = [{"host": "lab1", "check": "a", "outcome": "passed"}, {"host": "lab2", "check": "b", "outcome": "failed"}]
    out = _fix_with(monkeypatch, tmp_path, ops, checks=checks)
    assert out["fixed"] == ["lab1", "lab3"] and out["failed"] == {"lab2": "verification failed after the fix: "
                                                                          "1 check(s) failed: b"}
    # No report from the suite: no host is called verified.
    out = _fix_with(monkeypatch, tmp_path / "x", ops, checks=None)
    assert out["fixed"] == [] and set(out["failed"]) == {"lab1", "lab2", "lab3"}
