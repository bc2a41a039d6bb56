"""Secret values in daemon.json are never shown: not in drift items, errors or validation."""

import json

from operations import docker
from dockwright import schema, secrets
from dockwright.plumbing import report

from .harness import run
from .test_rollout_and_swarm import UNIT

TOKEN = "00000000-aaaa-bbbb-cccc-123456789abc"


def test_known_and_named_keys_are_secret():
    assert secrets.is_secret("log-opts.splunk-token")
    assert secrets.is_secret("passthrough-thing.api-key") and secrets.is_secret("x.db_password")
    assert secrets.is_secret("my-key", extra=("my-key",))
    assert not secrets.is_secret("log-opts.max-size")


def test_drift_items_show_a_hash_not_the_value():
    report.reset()
    old = {"log-driver": "splunk", "log-opts": {"splunk-token": "old-" + TOKEN}, "custom": "c1"}
    new = {"log-driver": "splunk", "log-opts": {"splunk-token": TOKEN}, "custom": "c2"}
    run(docker.daemon_config, {"DockerEngine": {"daemon_json": json.dumps(old), "exec_start": UNIT,
                                                "docker_opts": ""}},
        content=json.dumps(new), secret_keys=("custom",))
    text = json.dumps(report.collected())
    assert TOKEN not in text and "c1" not in text and "c2" not in text
    rows = {r["key"]: r for r in report.collected()}
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
