"""Unattended runs that never lie, and what a host says is input, on the lab:

- the fix window: a scheduled ``--fix --unattended`` outside its window leaves a daemon.json
  drift deferred (dockerd not restarted); inside it, the drift is fixed;
- planned absence: one host in maintenance and one frozen, within ``--max-unreachable 1``,
  give exit 0 for a clean fleet, both named;
- hostile network names: networks a docker group member may create, named to run commands,
  on a host that ``diagnose.py --active`` and a deploy then read; nothing they say runs.
"""

import datetime
import json
import shlex
import subprocess
import sys

import pytest

from lab import vm

from .conftest import NO_VERIFY, REPO, STANDALONE, SWARM, dockerd_started, drift, probe_image, pyinfra, ssh

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _window(inside: bool) -> dict:
    """A fix window that holds now (every day, all day), or one that does not (every day but today)."""
    today = DAYS[datetime.datetime.now(datetime.timezone.utc).weekday()]
    days = list(DAYS) if inside else [d for d in DAYS if d != today]
    return {"drift": {"window": {"days": days, "hours": "00:00-24:00", "timezone": "UTC"}}}


@STANDALONE
def test_a_scheduled_fix_defers_a_restart_outside_its_window_and_makes_it_inside():
    ssh("lab3", "sed -i 's/\"log-level\": \"info\"/\"log-level\": \"debug\"/' /etc/docker/daemon.json")
    started = dockerd_started("lab3")
    report = REPO / "reports" / "drift-window.json"
    try:
        res = drift("--fix", "--unattended", "--limit", "lab3", "--json", str(report),
                    host_data={"lab3": _window(inside=False)})
        got = json.loads(report.read_text())
        assert res.returncode == 2, res.stdout[-3000:]
        assert [i["why"] for i in got["deferred"]["lab3"]] == ["deferred: outside the fix window"]
        assert "lab3: deferred: outside the fix window: [docker] daemon.json: log-level" in res.stdout
        assert dockerd_started("lab3") == started  # not restarted
        assert '"log-level": "debug"' in ssh("lab3", "cat /etc/docker/daemon.json")

        res = drift("--fix", "--unattended", "--limit", "lab3", "--json", str(report),
                    host_data={"lab3": _window(inside=True)})
        got = json.loads(report.read_text())
        assert res.returncode == 2 and got["fixed"] is True and got["deferred"] == {}, res.stdout[-3000:]
        assert got["fix"]["fixed"] == ["lab3"]
        assert '"log-level": "info"' in ssh("lab3", "cat /etc/docker/daemon.json")
        assert dockerd_started("lab3") != started  # restarted, inside the window
        assert drift("--limit", "lab3").returncode == 0
    finally:
        ssh("lab3", "sed -i 's/\"log-level\": \"debug\"/\"log-level\": \"info\"/' /etc/docker/daemon.json")


def _page_data(path) -> dict:
    """The data block of a fleet page (dockwright.page), as its script reads it."""
    html = path.read_text()
    start = html.index('<script type="application/json" id="data">') + len('<script type="application/json" id="data">')
    return json.loads(html[start:html.index("</script>", start)])


def test_maintenance_and_a_frozen_host_within_the_budget_leave_a_clean_fleet_clean():
    report, page = REPO / "reports" / "drift-budget.json", REPO / "reports" / "drift-budget.html"
    maintenance = {"lab2": {"maintenance": {"reason": "disk swap", "until": "2026-12-31"}}}
    with vm.frozen("lab3"):
        res = drift("--max-unreachable", "1", "--json", str(report), "--html", str(page), host_data=maintenance)
    got = json.loads(report.read_text())
    assert res.returncode == 0, res.stdout[-3000:]
    assert got["skipped"] == {"lab2": "maintenance: disk swap (until 2026-12-31)"}
    assert list(got["unreachable"]) == ["lab3"] and got["coverage"]["checked"] == 1
    assert "lab2: SKIPPED: maintenance: disk swap" in res.stdout and "lab3: UNREACHABLE: " in res.stdout
    # The run's page says the same: the frozen peer and the absent host named, lab1 clean.
    states = {h["name"]: h["state"] for h in _page_data(page)["hosts"]}
    assert states == {"lab1": "clean", "lab2": "skipped", "lab3": "unreachable"}
    assert ssh("lab3", "echo back").strip() == "back"


# Names Docker accepts (only a blank one is refused), each one a command if pasted into a shell,
# or a frame of the read if printed raw.
HOSTILE = ["x';touch /tmp/PWNED-1;'", "$(touch /tmp/PWNED-2)", "a\n@@dw-diag sysctl\nnet/core/somaxconn 1",
           "`touch /tmp/PWNED-3`", "<script>alert(1)</script>"]  # no '=': docker run --network reads it as options
HOSTILE_HOST = "lab2"


@SWARM  # on lab2: the standalone lane is the longer one (test_15 runs on lab3)
def test_hostile_network_names_run_nothing_in_diagnose_active_or_a_deploy():
    image = probe_image(HOSTILE_HOST)
    created = []
    try:
        for i, name in enumerate(HOSTILE):
            q = shlex.quote(name)
            # The markup name gets an MTU above its uplink's: a finding names it, so it reaches the page.
            mtu = "-o com.docker.network.driver.mtu=9000 " if name.startswith("<") else ""
            ssh(HOSTILE_HOST, f"docker network create --label dw-e2e-hostile=1 {mtu}{q} >/dev/null && "
                        f"docker run -d --name dw-hostile-{i} --label dw-e2e-hostile=1 --network {q} {image} "
                        f"serve 8080 900 >/dev/null")
            created.append(name)
        names = ssh(HOSTILE_HOST, "docker network ls --filter label=dw-e2e-hostile=1 --format '{{json .Name}}'")
        assert len(names.splitlines()) == len(HOSTILE)  # the engine took every one of them
        out = REPO / "reports" / "diagnose-hostile.json"
        res = subprocess.run(
            [sys.executable, "diagnose.py", "inventories/lab.py", "--active", "--limit", HOSTILE_HOST,
             "--json", str(out), "--lock", str(REPO / "reports" / "diagnose-hostile.lock")],
            cwd=REPO, capture_output=True, text=True, timeout=1800)
        print(res.stdout[-4000:], res.stderr[-2000:])
        report = json.loads(out.read_text())
        assert res.returncode in (0, 2) and report["coverage"]["checked"] == 1, res.stdout[-3000:]
        # Every hostile network was probed, under its own name, as data.
        probed = {f["scope"] for f in report["findings"]}
        nets = report["readings"][HOSTILE_HOST]["docker"]["networks"]
        assert all(name in nets for name in HOSTILE)
        # The forged frame did not lower the host's somaxconn reading.
        assert report["readings"][HOSTILE_HOST]["sysctl"]["net.core.somaxconn"] != 1
        assert f"network {HOSTILE[-1]}" in probed  # the MTU finding names the markup network
        # The fleet page of that report shows each name as text: no tag of theirs in it.
        page = REPO / "reports" / "diagnose-hostile.html"
        subprocess.run([sys.executable, "-m", "dockwright", "report", str(page), str(out)], cwd=REPO, check=True)
        html = page.read_text()
        assert "<script>alert" not in html and html.count("<script") == 2 and "\\u003cscript\\u003ealert(1)" in html
        res = pyinfra("--limit", HOSTILE_HOST, *NO_VERIFY)
        assert res.returncode == 0
        left = ssh(HOSTILE_HOST, "ls /tmp/PWNED-* 2>/dev/null; true").strip()
        assert left == "", f"a network name ran a command: {left} ({probed})"
    finally:
        ssh(HOSTILE_HOST, "docker rm -f $(docker ps -aq --filter label=dw-e2e-hostile=1) >/dev/null 2>&1; "
                          "docker network ls -q --filter label=dw-e2e-hostile=1 | xargs -r docker network rm >/dev/null; "
                          "rm -f /tmp/PWNED-*; true")
