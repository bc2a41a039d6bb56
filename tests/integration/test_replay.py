"""Simulated hosts (bench/replay.py): a recorded answer comes back with the simulated host's own
name and address; an unrecorded command fails and says which; commands are counted per host."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

DEPLOY = '''
from pyinfra import host
from pyinfra.facts.server import Command
print("ANSWER", host.name, host.get_fact(Command, "hostname; ip -4 -o addr show eth1"))
print("ANSWER", host.name, host.get_fact(Command, "uname -r"))
'''


def _run(tmp_path, recording: dict):
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "worker.json").write_text(json.dumps({"recorded": 0, "commands": recording}))
    (tmp_path / "deploy.py").write_text(DEPLOY)
    (tmp_path / "inv.py").write_text(
        "workers = [('@dwreplay/sim-a', {'replay_role': 'worker', 'data_ip': '10.200.0.1'}),\n"
        "           ('@dwreplay/sim-b', {'replay_role': 'worker', 'data_ip': '10.200.0.2'})]\n")
    env = {"PATH": "/usr/bin:/bin", "DOCKWRIGHT_REPLAY_DIR": str(tmp_path / "rec"),
           "DOCKWRIGHT_REPLAY_LATENCY_MS": "1", "DOCKWRIGHT_COUNT_FILE": str(tmp_path / "count")}
    return subprocess.run([sys.executable, "-m", "pyinfra", str(tmp_path / "inv.py"), str(tmp_path / "deploy.py"),
                           "-y"], cwd=REPO, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120)


def test_recorded_answers_carry_each_hosts_own_name_and_address(tmp_path):
    rec = {"sh -c 'hostname; ip -4 -o addr show eth1'":
           {"ok": True, "lines": [["stdout", "@@HOST@@"], ["stdout", "3: eth1 inet @@DATA_IP@@/24"]]},
           "sh -c 'uname -r'": {"ok": True, "lines": [["stdout", "6.12.0"]]}}
    res = _run(tmp_path, rec)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "ANSWER sim-a sim-a\n3: eth1 inet 10.200.0.1/24" in res.stdout
    assert "ANSWER sim-b sim-b\n3: eth1 inet 10.200.0.2/24" in res.stdout
    assert sorted((tmp_path / "count").read_text().split()) == ["sim-a", "sim-a", "sim-b", "sim-b"]


def test_an_unrecorded_command_is_an_error_naming_it(tmp_path):
    rec = {"sh -c 'hostname; ip -4 -o addr show eth1'": {"ok": True, "lines": [["stdout", "@@HOST@@"]]}}
    res = _run(tmp_path, rec)
    assert res.returncode != 0
    assert "dwreplay: no recording of this command for role worker: sh -c 'uname -r'" in res.stdout + res.stderr


def test_a_host_address_that_begins_another_is_never_taken_for_it():
    """10.200.0.4's answers named 10.200.0.42 as @@DATA_IP@@2: the reach checks of every host
    whose address began with a peer's failed at N = 50 (the replay, not the product)."""
    from bench import replay
    text = "peer 10.200.0.42, me 10.200.0.4, also 10.200.0.4/24 and 110.200.0.4"
    assert replay.generic(text, "sim-w0003", "10.200.0.4") == \
        "peer 10.200.0.42, me @@DATA_IP@@, also @@DATA_IP@@/24 and 110.200.0.4"


def test_an_unreachable_replayed_host_answers_as_ssh_does_and_fails_only_its_own_checks():
    from bench import verify_replay
    got = verify_replay.answer({"replay_role": "worker", "replay_fault": "unreachable"}, "sim-w0003", "true")
    assert got.rc == 255 and got.stderr.startswith("ssh: connect to host sim-w0003")


def test_the_suite_answers_from_the_plugin_bench_registers_and_knows_nothing_of_replay():
    """The verification suite reaches simulated hosts only through its hooks: bench's
    distribution registers the plugin (pytest11), and no module of the suite imports bench."""
    from importlib.metadata import entry_points
    assert [ep.value for ep in entry_points(group="pytest11") if ep.name == "dockwright-verify-replay"] == \
        ["bench.verify_replay"]
    suite = Path(__file__).resolve().parents[2] / "dockwright" / "verify"
    assert not [f.name for f in suite.glob("*.py") if "bench" in f.read_text().replace("bench's", "")
                and "import" in f.read_text() and "from bench" in f.read_text()]
