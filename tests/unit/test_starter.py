"""dockwright init: a starter repo made of the package's own files, and nothing lost."""

import runpy
from pathlib import Path

import pytest

from dockwright import starter

REPO = Path(__file__).resolve().parents[2]


def test_the_starter_holds_the_checkouts_own_example_data_and_schedules(tmp_path):
    written = starter.init(tmp_path / "fleet")
    root = tmp_path / "fleet"
    assert {"deploy.py", "config.py", "README.md", "inventories/prod.py", "group_data/all.py",
            "schedule/dockwright-drift.timer"} <= set(written)
    # One source of truth: the starter's data is this checkout's group data, its examples (the
    # networks this checkout's fleets declare) commented out: a new fleet gets none it did not ask for.
    mine, ours = (runpy.run_path(str(p)) for p in (root / "group_data" / "all.py", REPO / "group_data" / "all.py"))
    assert ours["networks"]["bridges"] and ours["networks"]["overlays"]  # the control
    assert mine["networks"]["bridges"] == {} and mine["networks"]["overlays"] == {}
    assert {k: v for k, v in mine.items() if k != "networks" and not k.startswith("__")} == \
        {k: v for k, v in ours.items() if k != "networks" and not k.startswith("__")}
    assert {**mine["networks"], "bridges": None, "overlays": None} == {**ours["networks"], "bridges": None,
                                                                        "overlays": None}
    assert '        # "backend": {' in (root / "group_data" / "all.py").read_text()  # uncommented, it is back
    assert (root / "inventories" / "prod.py").read_text() == (REPO / "inventories" / "prod.py").read_text()
    assert "from dockwright import docker_host" in (root / "deploy.py").read_text()
    assert not (root / "group_data" / "lab.py").exists()  # the lab's own data stays here


def test_nothing_is_overwritten_unless_forced_and_then_kept(tmp_path):
    starter.init(tmp_path)
    (tmp_path / "deploy.py").write_text("# mine\n")
    with pytest.raises(FileExistsError, match="deploy.py"):
        starter.init(tmp_path)
    assert (tmp_path / "deploy.py").read_text() == "# mine\n"
    starter.init(tmp_path, force=True)
    assert (tmp_path / "deploy.py.bak").read_text() == "# mine\n"
    assert "docker_host()" in (tmp_path / "deploy.py").read_text()


def test_init_says_what_is_in_the_way_and_exits_1(tmp_path, capsys):
    assert starter.main([str(tmp_path)]) == 0
    assert starter.main([str(tmp_path)]) == 1
    assert "already there (nothing written" in capsys.readouterr().err
