"""A host whose kernel dies in the middle of a fix is declared unreachable within a minute,
named in drift.py's report with the phase, and every other host is fixed and verified without
a check of theirs failing because of it (dockwright.liveness; drift.py's fix outcome).

lab3's kernel is crashed (sysrq) the moment the fix's first change lands there (its somaxconn
set back to the data's value): its qemu keeps running and its SSH port stays open, so nothing
fails on its own; the session just goes silent, as a hung host or a path that drops packets
would be. The last file of the suite: lab3 boots again only if a scenario comes after it."""

import json
import shlex
import time

import pytest

from lab import vm

from .conftest import DOWN, MONITOR, REPO, drift, ssh

pytestmark = pytest.mark.usefixtures("converged")  # runnable alone: the lab converged first

KEY = "/proc/sys/net/core/somaxconn"
# Waits on lab3 until the fix has set its somaxconn back (drift's plan changes nothing), then
# crashes the kernel. Gives up after 900 s.
CRASH_ON_FIX = (
    "end=$(( $(date +%s) + 900 )); "
    f"until [ \"$(cat {KEY})\" != 1024 ]; do "
    "[ $(date +%s) -lt $end ] || exit 0; sleep 0.2; done; echo c > /proc/sysrq-trigger"
)


def test_a_host_that_dies_mid_fix_is_named_and_its_peers_are_fixed_and_verified():
    desired = ssh("lab1", f"cat {KEY}").strip()
    for h in ("lab1", "lab3"):
        ssh(h, f"echo 1024 > {KEY}")  # both have work to do: lab1 must finish it
    report = REPO / "reports" / "drift-host-dies.json"
    mark = MONITOR.mark()
    with MONITOR.expect("lab3"):
        ssh("lab3", f"setsid -f sh -c {shlex.quote(CRASH_ON_FIX)} >/dev/null 2>&1 </dev/null")
        res = drift("--fix", "--json", str(report), timeout=1800)
        ended = time.monotonic()
    try:
        crashes = MONITOR.since(mark, expected=True)
        assert [p.vm for p in crashes] == ["lab3"], "lab3 was not crashed during the fix"
        declared_after = ended - crashes[0].seen
        print(f"lab3 crashed; drift.py ended {declared_after:.1f} s later")
        got = json.loads(report.read_text())
        assert res.returncode == 1 and got["exit_code"] == 1  # a host was lost, and the run says so
        # Within the liveness bound (60 s) plus what the verification of lab1 still had to do.
        assert declared_after < 300, declared_after
        assert ssh("lab1", f"cat {KEY}").strip() == desired  # lab1 was fixed
        assert got["fix"]["fixed"] == ["lab1"], got["fix"]
        assert list(got["unreachable"]) == ["lab3"] and "during the fix" in got["unreachable"]["lab3"], got
        assert "lab1" not in got["failed"] and "lab1: fixed and verified" in res.stdout
        assert "lab3: UNREACHABLE during the fix" in res.stdout
    finally:
        vm.stop("lab3")
        # It boots again when a later scenario needs the lab (conftest: needs_lab_up); the
        # last scenario of make e2e spares that boot.
        DOWN.add("lab3")
