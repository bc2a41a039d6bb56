"""A concern added from outside dockwright: one module that registers one object (its reads,
checks, operation and verification check), its template, and an entry point naming the module.
Nothing in dockwright is edited for it. The packaged deploy then validates its data, applies it
with the builtin concerns, verifies it, and changes nothing the second time; the verification
fails when the host is tampered with.

Each run is a real pyinfra run on this machine (``@local``), with every builtin concern off, in
a project made by ``dockwright init``, in its own process (the entry point is found on its
PYTHONPATH): this process's registry is never touched.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

TOY = '''
"""A toy concern: one file whose text the data gives."""

import shlex
from pathlib import Path

import jinja2
from pyinfra import host
from pyinfra.api import operation

from dockwright import facts, files, schema
from dockwright.concerns import Concern, register
from dockwright.facts.profiles import Sha256File
from dockwright.plans import FilePlan, sha256
from dockwright import outcomes

TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
                               keep_trailing_newline=True)


def read(path):
    return facts.Read(Sha256File, {"path": path})


@operation()
def banner(path, content):
    """The banner file holds content."""
    have = read(path).get(host)
    decided = FilePlan(write=have != sha256(content))
    if decided.write:
        decided.differs(f"{path} sha256", sha256(content), have)
    outcomes.record(host, "banner", decided)
    if not decided.write:
        host.noop(f"{path} is up to date")
        return
    yield files.write(path, content)


class Banner(Concern):
    name = "banner"
    drift_keys = ("banner",)

    def reads(self, v):
        return [read(v.desired["banner"]["path"])]

    def problems(self, host, v):
        text = v.desired["banner"]["text"]
        return [("banner.text", text, "one line, please")] if "\\n" in text else []

    def apply(self, v):
        conf = v.desired["banner"]
        banner(name="banner: file", path=conf["path"],
               content=v.once("banner", lambda: TEMPLATES.get_template("toy_banner.j2").render(text=conf["text"])))

    def check(self, target):
        conf = target.desired["banner"]
        res = target.run(f"cat {shlex.quote(conf['path'])}")
        want = f"{conf['text']}\\n"  # from the data, not from the template
        return [] if res.rc == 0 and res.stdout == want else [f"{conf['path']} holds {res.stdout!r}, not {want!r}"]


register(Banner(), before="verify",
         section=schema.Struct({"path": schema.Name("absolute path"), "text": schema.Str()}),
         defaults={"path": "/etc/dockwright-banner", "text": "managed by dockwright"})
'''

ALL_OFF = {c: False for c in ("sysctl", "conntrack", "docker", "seccomp", "apparmor", "networks", "swarm",
                              "diagnose", "netbench")}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy's package (a module, its template, an entry point) and a project made by
    ``dockwright init``, deploying @local with the toy switched on."""
    base = tmp_path_factory.mktemp("toy")
    site = base / "site"
    (site / "toy_banner-1.0.dist-info").mkdir(parents=True)
    (site / "toy_banner.py").write_text(TOY)
    (site / "toy_banner.j2").write_text("{{ text }}\n")
    (site / "toy_banner-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-banner\nVersion: 1.0\n")
    (site / "toy_banner-1.0.dist-info" / "entry_points.txt").write_text("[dockwright.concerns]\nbanner = toy_banner\n")
    project = base / "project"
    env = dict(os.environ, PYTHONPATH=str(site), NO_COLOR="1")
    subprocess.run([sys.executable, "-m", "dockwright", "init", str(project)], check=True, env=env,
                   capture_output=True)
    (project / "inventory.py").write_text('hosts = ["@local"]\n')
    target = base / "etc" / "banner"
    data = {"concerns": {**ALL_OFF, "banner": True, "verify": True},
            "verify": {"after_deploy": True, "behaviour": False, "workers": 1},
            "banner": {"path": str(target), "text": "hello from a toy"}}
    all_py = project / "group_data" / "all.py"  # the starter's defaults, then the toy's project's choices
    all_py.write_text(all_py.read_text() + "".join(f"\n{k} = {v!r}\n" for k, v in data.items()))
    return {"project": project, "env": env, "file": target}


def pyinfra(toy, *args):
    return subprocess.run([sys.executable, "-m", "pyinfra", "-y", "inventory.py", "deploy.py", *args],
                          cwd=toy["project"], env=toy["env"], capture_output=True, text=True, timeout=300)


def verdicts(toy) -> dict:
    report = json.loads((toy["project"] / "reports" / "verify.json").read_text())
    return {(r["host"], r["check"]): r["outcome"] for r in report["results"]}


def test_the_registry_takes_the_toy_from_its_entry_point_alone(toy):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        from dockwright import concerns, schema
        print([c.name for c in concerns.REGISTRY], concerns.drift_keys(), schema.concern_names())""")],
        env=toy["env"], capture_output=True, text=True, check=True).stdout
    assert "'apparmor', 'networks', 'swarm', 'banner', 'verify']" in out  # before the verification
    assert "'overlays', 'banner')" in out and "'netbench', 'banner')" in out


def test_the_toy_is_validated_applied_verified_and_quiet_the_second_time(toy):
    first = pyinfra(toy)
    assert first.returncode == 0, first.stderr[-3000:]
    assert toy["file"].read_text() == "hello from a toy\n"
    assert verdicts(toy)[("@local", "a_registered_concern_holds[banner]")] == "passed"
    inode = toy["file"].stat().st_ino
    second = pyinfra(toy)
    assert second.returncode == 0, second.stderr[-3000:]
    assert toy["file"].stat().st_ino == inode  # not written again (a write renames a new file over it)


def test_the_verification_fails_a_tampered_toy_file(toy):
    if not toy["file"].exists():
        assert pyinfra(toy).returncode == 0
    toy["file"].write_text("tampered\n")
    res = subprocess.run([sys.executable, "-m", "dockwright.verify", "-q", "-p", "no:cacheprovider",
                          "--inventory", "inventory.py"], cwd=toy["project"], env=toy["env"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert verdicts(toy)[("@local", "a_registered_concern_holds[banner]")] == "failed"


@pytest.mark.parametrize("value, why", [(5, "expected a non-empty string"), ("two\nlines", "one line, please"),
                                        (None, "expected a non-empty string")])
def test_bad_toy_data_stops_the_run_naming_host_key_and_value(toy, value, why):
    before = toy["file"].read_bytes() if toy["file"].exists() else None
    res = pyinfra(toy, "--data", f"banner={json.dumps({'text': value})}")
    assert res.returncode != 0
    said = res.stdout + res.stderr
    assert f"@local: banner.text = {value!r}: {why}" in said, said[-3000:]
    assert (toy["file"].read_bytes() if toy["file"].exists() else None) == before
