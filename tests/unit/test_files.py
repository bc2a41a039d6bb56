"""The one way operations write a managed file: run for real here, on this machine's shell."""

import logging
import os
import stat
import subprocess

from dockwright import files
from dockwright.operations import seccomp

from .harness import FakeHost, run

TRICKY = "a 'quoted' \"line\" with $HOME and `ls`\n\\n stays literal\nno newline at the end"


def test_write_replaces_the_file_whole_with_its_mode_and_a_backup(tmp_path):
    path, backup = tmp_path / "sub" / "managed.conf", tmp_path / "managed.bak"
    subprocess.run(["sh", "-c", files.write(str(path), "old\n")], check=True)
    os.chmod(path, 0o600)
    subprocess.run(["sh", "-c", files.write(str(path), TRICKY, mode="0644", backup=str(backup))], check=True)
    assert path.read_text() == TRICKY
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert backup.read_text() == "old\n" and stat.S_IMODE(backup.stat().st_mode) == 0o600  # cp -p
    assert sorted(p.name for p in path.parent.iterdir()) == ["managed.conf"]  # no temporary left


def test_write_renames_so_a_reader_never_sees_half_a_file():
    command = files.write("/etc/x.conf", "x")
    assert command.endswith("&& mv -T /etc/x.conf.dockwright-new /etc/x.conf")
    assert command.index("chmod 0644 /etc/x.conf.dockwright-new") < command.index("mv ")


def test_a_directory_at_the_path_fails_the_write_and_is_left_whole(tmp_path):
    """/etc/apparmor.d/tunables is a directory: a profile written there must fail, not move
    into it with exit status 0 (plain mv does that)."""
    target = tmp_path / "tunables"
    (target / "global").parent.mkdir(parents=True)
    (target / "global").write_text("@{PROC}=/proc/\n")
    res = subprocess.run(["sh", "-c", files.write(str(target), "profile x {}\n")], capture_output=True, text=True)
    assert res.returncode != 0 and sorted(p.name for p in target.iterdir()) == ["global"]
    plain = subprocess.run(["sh", "-c", files.write(str(target), "y").replace("mv -T ", "mv ")])
    assert plain.returncode == 0 and "tunables.dockwright-new" in [p.name for p in target.iterdir()]  # control


def test_the_content_diff_is_shown_under_diff_only(caplog):
    facts = {"Sha256File": "0" * 64, "FileContents": ["{", '  "old": true', "}"]}
    commands, fake = run(seccomp.profile, facts, profile_name="dw", content='{\n  "new": true\n}\n')
    assert len(commands) == 1 and [name for name, _ in fake.asked] == ["Sha256File"]
    with caplog.at_level(logging.INFO, logger="pyinfra"):
        run(seccomp.profile, facts, fake=FakeHost(facts, diff=True), profile_name="dw", content='{\n  "new": true\n}\n')
    shown = caplog.text
    assert '"old": true' in shown and '"new": true' in shown and "@@ -1,3 +1,3 @@" in shown
