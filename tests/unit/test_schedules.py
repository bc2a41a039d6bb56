"""The schedule templates (templates/schedule/): systemd units that systemd itself accepts and
scores as well sandboxed, CI templates that parse and keep the evidence with least privilege,
and every command line in them one that drift.py or diagnose.py accepts."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dockwright.cli import EXIT_USAGE

REPO = Path(__file__).resolve().parents[2]

SCHEDULE = REPO / "templates" / "schedule"
SERVICES = ("dockwright-drift.service", "dockwright-diagnose.service", "dockwright-failed@.service")
ANALYZE = shutil.which("systemd-analyze")
need_analyze = pytest.mark.skipif(not ANALYZE and not os.environ.get("DOCKWRIGHT_REQUIRE_TOOLS"),
                                  reason="no systemd-analyze")


@pytest.fixture
def installed(tmp_path):
    """The units as installed on a control host: the checkout's python stands in for the venv's."""
    for unit in SCHEDULE.glob("dockwright-*"):
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/dockwright/.venv/bin/python", sys.executable))
    return tmp_path


@need_analyze
def test_systemd_verifies_every_unit_cleanly(installed):
    units = sorted(p.name for p in installed.iterdir())
    res = subprocess.run([ANALYZE or "systemd-analyze", "verify", *units], cwd=installed, capture_output=True,
                         text=True)
    assert res.returncode == 0 and res.stdout.strip() == "" and res.stderr.strip() == "", res.stdout + res.stderr


@need_analyze
@pytest.mark.parametrize("unit", SERVICES)
def test_every_service_scores_at_most_2_0_in_systemds_security_analysis(installed, unit):
    res = subprocess.run([ANALYZE or "systemd-analyze", "security", "--offline=yes", unit], cwd=installed,
                         capture_output=True, text=True)
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", res.stdout).group(1))
    assert score <= 2.0, res.stdout[-3000:]


def _units() -> dict[str, str]:
    return {p.name: p.read_text() for p in SCHEDULE.glob("dockwright-*.service")}


def test_the_units_run_as_their_own_user_with_optional_paths_and_a_failure_hook():
    for name in ("dockwright-drift.service", "dockwright-diagnose.service"):
        text = _units()[name]
        assert "User=dockwright" in text and "User=root" not in text, name
        assert "ReadWritePaths=-/var/lib/prometheus/node-exporter" in text, name
        assert "OnFailure=dockwright-failed@%n.service" in text, name
        assert "RuntimeDirectory=dockwright" in text  # the lock's directory, the user's alone


def _command_lines() -> list[tuple[str, list[str]]]:
    """(where, argv after the interpreter) of every drift.py/diagnose.py call in the templates."""
    found = []
    for path in SCHEDULE.iterdir():
        text = "\n".join(x for x in path.read_text().splitlines() if not x.lstrip().startswith("#"))
        text = text.replace("\\\n", " ")
        for m in re.finditer(r"((?:drift|diagnose)\.py [^;\n]*)", text):
            words = shlex.split(m.group(1).split(">>")[0].replace("${{ matrix.shard }}", "1"))
            found.append((path.name, words))
    return found


def test_every_command_line_in_the_templates_is_one_the_tools_accept():
    from dockwright.commands import diagnose, drift
    lines = _command_lines()
    assert len(lines) >= 6
    for where, words in lines:
        tool, argv = words[0], words[1:]
        main = drift.main if tool == "drift.py" else diagnose.main
        if argv[:1] == ["merge"]:
            continue  # merge's arguments are files the shards wrote
        parser_ok = _parses(main, argv)
        assert parser_ok, (where, words)
        # Nobody watches it: one progress line every 20 s in its log, not two lines per host.
        assert "--progress" in argv and argv[argv.index("--progress") + 1] == "compact", (where, words)


def _parses(main, argv) -> bool:
    """Whether the tool's argument parser takes argv (the run itself is not started)."""
    from dockwright.commands import diagnose, drift
    from dockwright import cli
    calls = []
    original = cli.run_locked
    try:
        drift.run_locked = diagnose.run_locked = lambda args, *a, **k: calls.append(args) or 0
        main(argv)
    except SystemExit as e:
        return e.code != EXIT_USAGE
    finally:
        drift.run_locked = diagnose.run_locked = original
    return bool(calls)


def test_the_github_templates_keep_the_evidence_with_least_privilege():
    for name in ("ci-drift.yml", "ci-diagnose.yml", "ci-drift-sharded.yml"):
        text = (SCHEDULE / name).read_text()
        doc = yaml.safe_load(text)
        assert doc["permissions"] == {"contents": "read"}, name
        assert doc["concurrency"]["group"], name
        assert "visible to everyone" in text, name
        for job_name, job in doc["jobs"].items():
            assert job["timeout-minutes"] > 0, (name, job_name)
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/upload-artifact"):
                    assert step.get("if") == "always()" and step["with"]["retention-days"] <= 14, (name, job_name)


def test_the_gitlab_template_keeps_the_evidence_too():
    text = (SCHEDULE / "gitlab-ci.yml").read_text()
    doc = yaml.safe_load(text)
    base = doc[".dockwright"]
    assert base["artifacts"]["when"] == "always" and base["artifacts"]["expire_in"] == "7 days"
    assert base["timeout"] and base["resource_group"] and "umask 077" in base["before_script"]
    assert {"drift", "diagnose"} <= set(doc) and "visible to everyone" in text


def test_the_crontab_keeps_its_log_private():
    line = next(x for x in (SCHEDULE / "crontab").read_text().splitlines() if x and not x.startswith("#"))
    assert "umask 077 &&" in line and "--unattended" in line
