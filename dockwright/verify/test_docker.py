"""Docker daemon: daemon.json holds what the data says, and what dockerd reports it runs with."""

import fnmatch
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


def _os_release(text: str) -> dict:
    return {k: v.strip().strip("\"'") for k, _, v in (x.partition("=") for x in text.splitlines()) if v}


def test_engine_package_source_version_and_hold(target):
    """apt takes the engine from the repository the data names, signed by its key alone, at the
    pinned version, and the packages are held: judged from apt's own answers."""
    target.needs("docker")
    conf = target.desired["docker"]
    if conf.get("source") != "repository" and not conf.get("version"):
        pytest.skip("the engine's package is left to the host's own apt sources")
    state, wrong = target.state(), []
    policy = state["apt.policy"]
    if conf["source"] == "repository":
        url = expect.apt_url(conf["repository"], _os_release(state["os-release"]))
        meta, text = snapshot.file_of(state, "apt.source")
        fields = dict(line.split(": ", 1) for line in (text or "").splitlines() if ": " in line)
        if fields.get("URIs") != url or fields.get("Signed-By") != "/etc/apt/keyrings/dockwright-docker.asc":
            wrong.append(f"the source file names {fields.get('URIs')!r} signed by {fields.get('Signed-By')!r} "
                         f"(want {url!r} signed by the repository's own keyring)")
        key_meta, key = snapshot.file_of(state, "apt.key")
        with open(conf["repository"]["key"]) as f:
            if key is None or key.strip() != f.read().strip():
                wrong.append("the keyring is not the repository's key from the data")
        if url not in policy:
            wrong.append(f"apt-cache policy does not list {url}: {policy[:300]!r}")
    if conf.get("version"):
        installed = state["apt.installed"].split()
        candidate = next((x.split(":", 1)[1].strip() for x in policy.splitlines() if x.strip().startswith("Candidate:")), None)
        if not installed or not fnmatch.fnmatchcase(installed[0], conf["version"]):
            wrong.append(f"{conf['package']} {installed[:1]} installed, want {conf['version']}")
        if not candidate or not fnmatch.fnmatchcase(candidate, conf["version"]):
            wrong.append(f"apt's candidate is {candidate}, not the pinned {conf['version']}")
        held = state["apt.holds"].split()
        if conf.get("hold", True) and conf["package"] not in held:
            wrong.append(f"{conf['package']} is not held (held: {held})")
    assert not wrong, "; ".join(wrong)
