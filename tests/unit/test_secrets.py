"""Secret values in daemon.json are never shown: not in drift items, errors or validation."""

import json

from dockwright.operations import docker
from dockwright import schema, secrets
from dockwright import outcomes

from .harness import DEBIAN, run
from .helpers import UNIT

TOKEN = "00000000-aaaa-bbbb-cccc-123456789abc"


def test_known_and_named_keys_are_secret():
    assert secrets.is_secret("log-opts.splunk-token")
    assert secrets.is_secret("passthrough-thing.api-key") and secrets.is_secret("x.db_password")
    assert secrets.is_secret("my-key", extra=("my-key",))
    assert not secrets.is_secret("log-opts.max-size")


def test_drift_items_show_a_hash_not_the_value():
    old = {"log-driver": "splunk", "log-opts": {"splunk-token": "old-" + TOKEN}, "custom": "c1"}
    new = {"log-driver": "splunk", "log-opts": {"splunk-token": TOKEN}, "custom": "c2"}
    _, fake = run(docker.daemon_config, {"DockerEngine": {"daemon_json": json.dumps(old), "exec_start": UNIT,
                                                          "docker_opts": ""}},
                  content=json.dumps(new), secret_keys=("custom",))
    text = json.dumps(outcomes.collected(fake.state))
    assert TOKEN not in text and "c1" not in text and "c2" not in text
    rows = {r["key"]: r for r in outcomes.collected(fake.state)}
    token_row = rows["daemon.json: log-opts.splunk-token"]
    assert token_row["desired"].startswith("<secret sha256:") and token_row["desired"] != token_row["actual"]


def test_validation_errors_mask_secret_values():
    problems = schema.validate("h1", {"docker": {"daemon": {"log-opts": {"splunk-token": TOKEN + "\n"}}}})
    assert problems and all(TOKEN not in str(p) for p in problems)
    assert "docker.daemon.log-opts.splunk-token" in str(problems[0])


def test_redacted_candidate_keeps_shape_for_validation():
    doc = {"log-opts": {"splunk-token": TOKEN, "max-size": "10m"}, "labels": ["a"]}
    red = secrets.redact(doc)
    assert red == {"log-opts": {"splunk-token": secrets.PLACEHOLDER, "max-size": "10m"}, "labels": ["a"]}


MARKER = "S3CR3T-MARKER-7f3a"


def _engine(daemon_json):
    return {"DockerEngine": {"daemon_json": daemon_json, "exec_start": UNIT, "docker_opts": "", "os": DEBIAN}}


def _assert_drift_outputs_hide_the_marker(tmp_path, state) -> None:
    """drift.py's report and textfile for the items the plan of state's run recorded: no MARKER
    in either."""
    from dockwright.commands import drift
    items = [dict(i, host="h1") for i in outcomes.collected(state)]
    rep = {"inventory": "inv.py", "started": 1.0, "finished": 2.0, "duration": 1.0, "hosts": ["h1"],
           "drift": {"h1": items}, "unreachable": {}, "failed": {}, "error": None, "fixed": False, "exit_code": 2}
    args = type("A", (), {"json": str(tmp_path / "r.json"), "metrics": str(tmp_path / "m.prom")})
    drift._write_outputs(args, rep)
    for f in ("r.json", "m.prom"):
        assert MARKER not in (tmp_path / f).read_text()


def test_a_marker_secret_is_shown_nowhere_whatever_the_depth_or_output(tmp_path):
    """The marker sits in every field that can hold a secret: a known log option, a key named
    like a credential, a key declared in docker.secret_keys, in daemon and in passthrough. Every
    output is searched for it: drift items (host without log-opts: the whole dict differs), an
    unparseable daemon.json on the host, validation errors on a passthrough dict, the drift
    report and metrics files, and the verification's message."""
    from dockwright.verify import expect

    content = {"log-driver": "splunk", "log-opts": {"splunk-token": MARKER, "tag": "x"},
               "registry": {"api-key": MARKER}, "declared-secret": MARKER}
    keys = ("declared-secret",)
    outputs = []
    for on_host in ("{}", json.dumps({"log-driver": "json-file"}), '{"log-opts": {"splunk-token": "' + MARKER + '",'):
        _, fake = run(docker.daemon_config, _engine(on_host), content=json.dumps(content), secret_keys=keys)
        outputs.append(json.dumps(outcomes.collected(fake.state)))
    assert all(MARKER not in out for out in outputs), outputs
    assert "(unparseable: " in outputs[2] and "sha256 " in outputs[2]

    # Validation: a passthrough dict whose key is also modelled quotes its value in the error.
    state = {"docker": {"daemon": {"log-opts": {"splunk-token": MARKER}},
                        "passthrough": {"log-opts": {"splunk-token": MARKER, "x": 1}}}}
    problems = schema.validate("h1", state)
    assert problems and MARKER not in " ".join(map(str, problems))

    # drift's report (0600) and metrics (0644: node_exporter reads it) never carry it.
    _assert_drift_outputs_hide_the_marker(tmp_path, fake.state)
    assert oct((tmp_path / "r.json").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "m.prom").stat().st_mode & 0o777) == "0o644"

    # The verification's expectations: the file is 0600 since it holds a secret.
    desired = {"docker": {"daemon": content, "passthrough": {}, "secret_keys": list(keys)}, "concerns": {}}
    assert expect.daemon_json_mode(desired) == "600"
    assert expect.daemon_json_mode({"docker": {"daemon": {"log-level": "info"}}}) == "644"  # control


def test_daemon_json_holding_a_secret_is_0600_and_its_backups_always_are():
    script = docker.rollout_script(json.dumps({"log-opts": {"splunk-token": MARKER}}), 60)
    assert 'chmod 0600 "$new"' in script and MARKER not in script
    assert 'chmod 0644 "$new"' in docker.rollout_script(json.dumps({"log-level": "info"}), 60)
    assert 'chmod 0600 "$bak.tmp"' in script and 'chmod 0600 "$live.dockwright-failed"' in script


URLS = {"registry-mirrors": [f"https://mirror-user:{MARKER}@mirror.internal:5000"],
        "proxies": {"https-proxy": f"http://proxy-user:{MARKER}@proxy.internal:3128", "no-proxy": "localhost"},
        "labels": [f"endpoint=tcp://u:{MARKER}@logs.internal:514"]}


def test_credentials_inside_urls_are_secret_by_value_wherever_they_sit(tmp_path):
    """A URL's user information is a credential whatever key holds it: masked in every output,
    never on a command line (the validation gets a placeholder), and the file is 0600."""
    from dockwright.verify import expect

    assert secrets.secret_value(URLS["registry-mirrors"][0]) and not secrets.secret_value("https://mirror:5000")
    assert secrets.is_secret("proxies.https-proxy")
    outputs = []
    for on_host in ("{}", json.dumps({"registry-mirrors": ["https://a:b@old:5000"]})):
        commands, fake = run(docker.daemon_config, _engine(on_host), content=json.dumps(URLS))
        outputs.append(json.dumps(outcomes.collected(fake.state)))
        # Every command line (the file itself travels on stdin to the rollout: not a command).
        outputs += [c for c in commands if isinstance(c, str)] + fake.commands()
        outputs += [repr({k: v for k, v in kw.items() if k != "_stdin"}) for _, kw in fake.ran]
    assert all(MARKER not in out for out in outputs), [o for o in outputs if MARKER in o]
    # The candidate dockerd --validate sees keeps each URL's shape, without the credential.
    from dockwright.plans import docker as docker_plans
    candidate = json.loads(docker_plans.for_validation(json.dumps(URLS)))
    assert MARKER not in json.dumps(candidate)
    assert candidate["registry-mirrors"] == [f"https://{secrets.PLACEHOLDER}@mirror.internal:5000"]
    assert candidate["proxies"]["https-proxy"] == f"http://{secrets.PLACEHOLDER}@proxy.internal:3128"

    _assert_drift_outputs_hide_the_marker(tmp_path, fake.state)
    # Validation errors about such a value quote it masked.
    problems = schema.validate("h1", {"docker": {"daemon": {"registry-mirrors": [URLS["registry-mirrors"][0] + "\n"]}}})
    assert problems and MARKER not in " ".join(map(str, problems))
    # The file holding one is 0600 (the operation and the verification agree).
    assert expect.daemon_json_mode({"docker": {"daemon": {"registry-mirrors": URLS["registry-mirrors"]}}}) == "600"
    assert expect.daemon_json_mode({"docker": {"daemon": {"registry-mirrors": ["https://mirror:5000"]}}}) == "644"


def test_dockwright_data_shows_each_hosts_merged_data_with_every_secret_masked(tmp_path):
    """The adoption guide's review of the merged data: a credential in a URL, a known log
    option's token and a declared secret key are masked; the rest is shown as it is."""
    import subprocess
    import sys
    subprocess.run([sys.executable, "-m", "dockwright", "init", str(tmp_path / "p")], check=True, capture_output=True)
    all_py = tmp_path / "p" / "group_data" / "all.py"
    all_py.write_text(all_py.read_text() + (
        "\ndocker = dict(docker, secret_keys=['labels'], daemon=dict(docker['daemon'], "
        f"**{{'registry-mirrors': ['https://u:{MARKER}@m:5000'], 'labels': ['{MARKER}'], "
        f"'log-opts': {{'splunk-token': '{MARKER}', 'max-size': '10m'}}}}))\n"))
    (tmp_path / "p" / "inventory.py").write_text("hosts = [('h1', {'ssh_password': '" + MARKER + "'})]\n")
    res = subprocess.run([sys.executable, "-m", "dockwright", "data", "inventory.py"], cwd=tmp_path / "p",
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert MARKER not in res.stdout + res.stderr
    shown = json.loads(res.stdout)["h1"]["desired"]["docker"]["daemon"]
    assert shown["log-opts"]["max-size"] == "10m" and shown["registry-mirrors"][0].startswith("<secret sha256:")
    empty = subprocess.run([sys.executable, "-m", "dockwright", "data", "inventory.py"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert empty.returncode == 1 and "inventory.py" in empty.stderr  # not a project's inventory: no "{}"
