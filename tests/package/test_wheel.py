"""The package works where it is installed: a wheel built from this checkout, installed into a
fresh venv (no editable link back here), run from a directory outside the checkout.

Dependencies come from the project's venv (a path entry after the new venv's own site-packages,
so the wheel's dockwright is the one imported): nothing is fetched, the tests reach no network.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp / "dist"), str(REPO)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp / "dist").glob("dockwright-*.whl"))
    venv.create(tmp / "venv", with_pip=True)  # pip from the standard library's own bundle
    py = tmp / "venv" / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=300)
    # The dependencies as a user's install has them: the project venv's, without dockwright's
    # editable link and the bench distribution (whose pyinfra connectors a user has not).
    deps = tmp / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(("dockwright", "__editable__", "bench")):
            (deps / entry.name).symlink_to(entry)
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz-dockwright-deps.pth").write_text(f"{deps}\n")
    project = tmp / "project"  # a pyinfra repo of one's own: its inventory and group data
    shutil.copytree(REPO / "group_data", project / "group_data")
    off = {c: False for c in ("conntrack", "sysctl", "docker", "seccomp", "apparmor", "networks", "swarm", "verify")}
    (project / "inventory.py").write_text(f"standalone = [('@local', {{'concerns': {off!r}}})]\n")
    (project / "deploy.py").write_text("from dockwright import docker_host\n\ndocker_host()\n")
    return tmp, py, site, project


def run(installed, *argv, **kw):
    tmp, py, site, project = installed
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{py.parent}:{env.get('PATH', '')}"
    return subprocess.run([str(py), *argv], cwd=project, env=env, capture_output=True, text=True, timeout=300, **kw)


def test_the_installed_package_is_the_wheel_and_carries_its_data(installed):
    tmp, py, site, project = installed
    res = run(installed, "-c", "import dockwright, dockwright.templating as t, dockwright.verify as v, dockwright.probe as p; "
                               "print(dockwright.__file__); print(t.render('sysctl/dockwright.conf.j2', settings=[('a.b', 1)])); "
                               "print(t.TEMPLATES.joinpath('seccomp/spec.yaml').is_file(), v.__file__); "
                               "print(len(p.binary('x86_64')))")
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.splitlines()
    assert lines[0].startswith(str(site)) and "a.b = 1" in res.stdout
    assert f"True {site}/dockwright/verify/__init__.py" in res.stdout and int(lines[-1]) > 10000
    assert "dockwright " in run(installed, "-m", "dockwright", "--version").stdout
    assert (py.parent / "dockwright").exists()  # the console script


def test_a_pyinfra_repo_of_ones_own_runs_the_packaged_deploy(installed):
    """`from dockwright import docker_host` in the repo's own deploy.py, with its own inventory
    and group data; and `dockwright deploy`, which hands pyinfra the packaged deploy file."""
    tmp, py, site, project = installed
    for argv in (["-m", "pyinfra", "inventory.py", "deploy.py", "--dry", "-y"],
                 ["-m", "dockwright", "deploy", "inventory.py", "--dry", "-y"]):
        res = run(installed, *argv, stdin=subprocess.DEVNULL)
        out = res.stdout + res.stderr
        assert res.returncode == 0 and "desired state of 1 host(s) is valid" in out, out[-3000:]
        assert "[@local] Ready" in out and "Traceback" not in out
    # Its data is the repo's own: a typo in it is named, from there.
    (project / "group_data" / "standalone.py").write_text("conntrak = {}\n")
    try:
        res = run(installed, "-m", "dockwright", "deploy", "inventory.py", "--dry", "-y", stdin=subprocess.DEVNULL)
        assert res.returncode != 0 and "conntrak" in res.stdout + res.stderr
    finally:
        shutil.copy(REPO / "group_data" / "standalone.py", project / "group_data" / "standalone.py")


def test_the_verification_suite_runs_by_module_name_from_the_install(installed):
    res = run(installed, "-m", "dockwright.verify", "--inventory", "inventory.py", "-q", "-p", "no:cacheprovider",
              "--collect-only")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    tmp, py, site, project = installed
    assert "test_kernel.py" in res.stdout and str(REPO) not in res.stdout


def test_init_writes_a_starter_repo_that_plans_from_the_install(installed):
    """`dockwright init` from the installed package: the starter repo's own data and deploy plan a
    host (its example inventory names hosts of example.net: a local one is added)."""
    tmp, py, site, project = installed
    res = run(installed, "-m", "dockwright", "init", str(tmp / "starter"))
    assert res.returncode == 0 and "19 files" in res.stdout, res.stderr[-2000:]
    off = {c: False for c in ("conntrack", "sysctl", "docker", "seccomp", "apparmor", "networks", "swarm", "verify")}
    (tmp / "starter" / "inventories" / "local.py").write_text(f"standalone = [('@local', {{'concerns': {off!r}}})]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    res = subprocess.run([str(py), "-m", "pyinfra", "inventories/local.py", "deploy.py", "--dry", "-y"],
                         cwd=tmp / "starter", env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                         timeout=300)
    assert res.returncode == 0 and "desired state of 1 host(s) is valid" in res.stdout + res.stderr, res.stdout[-3000:]
    assert run(installed, "-m", "dockwright", "init", str(tmp / "starter")).returncode == 1  # nothing overwritten
