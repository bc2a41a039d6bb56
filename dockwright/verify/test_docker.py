"""Docker daemon: daemon.json holds what the data says, and what dockerd reports it runs with."""

import json

import pytest

from dockwright import secrets

from . import expect, snapshot

DAEMON_JSON = snapshot.FILES["daemon.json"]


@pytest.fixture
def daemon(target):
    target.needs("docker")
    return expect.daemon_json(target.desired)


def test_daemon_json_content_and_mode(target, daemon):
    meta, content = snapshot.file_of(target.state(), "daemon.json")
    assert meta is not None, f"{DAEMON_JSON} missing"
    mode = expect.daemon_json_mode(target.desired)
    assert meta == f"root root {mode}", f"{DAEMON_JSON} is {meta} (want root root {mode})"
    have = json.loads(content)
    keys = tuple(target.desired["docker"].get("secret_keys", ()))
    show = lambda k, v: secrets.shown(v, k, keys)  # noqa: E731 - a message must not show a credential
    wrong = [f"{k}: want {show(k, v)!r}, has {show(k, have.get(k, '(absent)'))!r}"
             for k, v in sorted(daemon.items()) if have.get(k) != v]
    wrong += [f"{k}: {show(k, have[k])!r} is in the file but not in the data" for k in sorted(set(have) - set(daemon))]
    assert not wrong, "; ".join(wrong)


def test_docker_info_reflects_settings(target, daemon):
    state = target.state()
    info = json.loads(state["docker.info"])
    assert state["docker.unit"].split() == ["enabled", "active"], state["docker.unit"]
    assert info["LiveRestoreEnabled"] is bool(daemon.get("live-restore", False))
    if "log-driver" in daemon:
        assert info["LoggingDriver"] == daemon["log-driver"]
    security = ",".join(info.get("SecurityOptions") or [])
    if "seccomp-profile" in daemon:
        assert f"profile={daemon['seccomp-profile']}" in security, security
    if daemon.get("no-new-privileges"):
        # Read from a container, not from `docker info` (Engine 20.10 does not list it there).
        out = target.default_view()["nnp"]
        assert out == "1", f"a container's no_new_privs bit is {out!r}"
    if "icc" in daemon:
        bridge = next(n for n in json.loads(state["docker.networks"] or "[]") if n["Name"] == "bridge")
        opts = bridge.get("Options") or {}
        assert opts.get("com.docker.network.bridge.enable_icc") == str(daemon["icc"]).lower()


def test_container_limits_from_daemon(target, daemon):
    nofile = daemon.get("default-ulimits", {}).get("nofile")
    if not nofile:
        pytest.skip("no default nofile ulimit in data")
    out = target.default_view()["nofile"]
    assert out.split() == [str(nofile["Soft"]), str(nofile["Hard"])]
