"""Docker daemon: daemon.json as rendered from data, and what dockerd reports it runs with."""

import json

import pytest

from operations import docker, model, report


@pytest.fixture
def daemon(target):
    if not model.enabled(target.desired, "docker"):
        pytest.skip("docker concern off for this host")
    return json.loads(docker.render(target.desired))


def test_daemon_json_content_and_mode(target, daemon):
    meta, content = target.file_facts(docker.DAEMON_JSON)
    assert meta is not None, f"{docker.DAEMON_JSON} missing"
    assert meta == "root root 644", f"{docker.DAEMON_JSON} is {meta} (want root root 644)"
    diff = [f"{k}: want {w!r}, has {h!r}" for k, w, h in report.dict_diff(daemon, json.loads(content))]
    assert not diff, "; ".join(diff)


def test_docker_info_reflects_settings(target, daemon):
    info = json.loads(target.out("docker info --format '{{json .}}'"))
    assert target.out("systemctl is-enabled docker; systemctl is-active docker").split() == ["enabled", "active"]
    assert info["LiveRestoreEnabled"] is bool(daemon.get("live-restore", False))
    if "log-driver" in daemon:
        assert info["LoggingDriver"] == daemon["log-driver"]
    security = ",".join(info.get("SecurityOptions") or [])
    if "seccomp-profile" in daemon:
        assert f"profile={daemon['seccomp-profile']}" in security, security
    if daemon.get("no-new-privileges"):
        # Read from a container, not from `docker info` (Engine 20.10 does not list it there).
        _, out = target.container("", "grep '^NoNewPrivs:' /proc/self/status")
        assert out.split() == ["NoNewPrivs:", "1"], out
    if "icc" in daemon:
        opts = json.loads(target.out("docker network inspect bridge --format '{{json .Options}}'"))
        assert opts.get("com.docker.network.bridge.enable_icc") == str(daemon["icc"]).lower()


def test_container_limits_from_daemon(target, daemon):
    nofile = daemon.get("default-ulimits", {}).get("nofile")
    if not nofile:
        pytest.skip("no default nofile ulimit in data")
    _, out = target.container("", "ulimit -n; ulimit -Hn")
    assert out.split() == [str(nofile["Soft"]), str(nofile["Hard"])]
