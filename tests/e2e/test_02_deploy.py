"""The fleet converges, proves it, and a second run changes nothing."""

from .conftest import NO_VERIFY, changed_ops, dockerd_started, failed_checks, pyinfra


def test_first_deploy_converges_and_verifies():
    res = pyinfra()
    out = res.stdout + res.stderr
    assert res.returncode == 0, failed_checks()
    assert "dockwright verification summary" in out
    for host in ("lab1", "lab2", "lab3"):
        assert f"{host}: " in out and "0 failed" in out.split(f"  {host}: ", 1)[1].splitlines()[0]


def test_second_deploy_changes_nothing_and_restarts_nothing():
    started = {h: dockerd_started(h) for h in ("lab1", "lab2", "lab3")}
    res = pyinfra(*NO_VERIFY)
    assert res.returncode == 0
    assert changed_ops(res) == []
    assert {h: dockerd_started(h) for h in started} == started
