"""Adversarial strings against every string field of the schema (property-based).

For each field the schema walk finds, and each generated string, either validation refuses the
value (naming that key), or every command the operations would send carries it as part of one
shell word, and running those commands in a sandbox (an empty chroot with only a shell and
`touch`) never creates the marker file the string tries to create.
"""

import os
import runpy
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockwright.operations import apparmor, docker, networks, package, seccomp, sysctl
from dockwright import model, schema
from dockwright.facts import engine as fengine
from dockwright.facts import kernel as fkernel
from dockwright.facts import profiles as fprofiles
from dockwright.plans import apparmor as apparmor_plans
from dockwright.plans import docker as docker_plans
from dockwright.plans import seccomp as seccomp_plans

REPO = Path(__file__).resolve().parents[2]
DEFAULTS = model.merge_layers([runpy.run_path(str(REPO / "group_data" / "all.py"))])
MARK = "/tmp/dwpwn"
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"

# Payloads that create the marker if a shell ever reads them as code, in every quoting context.
PAYLOADS = [
    f"x;touch {MARK};", f"x' ; touch {MARK}; echo '", f'x" ; touch {MARK}; echo "', f"$(touch {MARK})",
    f"`touch {MARK}`", f"x\ntouch {MARK}", f"x && touch {MARK}", f"x | touch {MARK}",
    f"dw' /dev/null; touch {MARK}; echo '", f"dw.json; touch {MARK}; :", f"-x; touch {MARK}",
    f"--help;touch {MARK}", f"x$(: > {MARK})", f"x>{MARK}", f"x'\\''; touch {MARK} #",
]
adversarial = st.one_of(
    st.sampled_from(PAYLOADS),
    st.builds(lambda a, p, b: a + p + b, st.text(max_size=4), st.sampled_from(PAYLOADS), st.text(max_size=4)),
    st.text(alphabet=st.sampled_from(list("ab-;|&$`'\"\\<>(){}*?!#~ \n\t/.:=")), min_size=1, max_size=12),
)


def string_fields(check, path=()):
    """(path, kind) of every place in the schema where a string goes."""
    kind = getattr(check, "kind", None)
    if kind in ("name", "text"):
        yield path, kind
    for name, sub in getattr(check, "fields", {}).items():
        yield from string_fields(sub, path + (("field", name),))
    for part, sub in getattr(check, "parts", {}).items():
        step = {"item": ("item",), "key": ("key",), "value": ("value",)}.get(part)
        yield from string_fields(sub, path + (step,) if step else path)


FIELDS = sorted(set(string_fields(schema.SCHEMA)), key=repr)


def place(path, value, key=""):
    """(document with value at path, the key string validation would name)."""
    if not path:
        return value, key
    step, rest = path[0], path[1:]
    if step[0] == "field":
        sub = f"{key}.{step[1]}" if key else step[1]
        doc, k = place(rest, value, sub)
        return {step[1]: doc}, k
    if step[0] == "item":
        doc, k = place(rest, value, f"{key}[0]")
        return [doc], k
    if step[0] == "key":
        return {value: None}, f"{key}.{value}"
    doc, k = place(rest, value, f"{key}.k")
    return {"k": doc}, k


# Required siblings of a placed value, so that a refusal can only come from the value itself.
SIBLINGS = {
    "docker.daemon.default-ulimits.<value>": {"Name": "nofile", "Soft": 1024, "Hard": 1024},
    "networks.bridges.<value>": {"subnet": "10.99.0.0/16"},
    "networks.overlays.<value>": {"subnet": "10.98.0.0/16"},
}


def with_siblings(doc, path):
    """doc with the required keys of every struct along path filled in (benign values)."""
    node = doc
    for i, step in enumerate(path):
        if not isinstance(node, (dict, list)):
            break
        for k, v in SIBLINGS.get(field_id(path[:i]), {}).items():
            if isinstance(node, dict):
                node.setdefault(k, v)
        node = node[step[1]] if step[0] == "field" else node[0] if step[0] == "item" else \
            node.get("k") if step[0] == "value" else None
    return doc


def field_id(path):
    return ".".join(s[1] if s[0] == "field" else f"<{s[0]}>" for s in path)


def test_the_walk_finds_the_fields_that_name_things_on_hosts():
    ids = {field_id(p) for p, _ in FIELDS}
    for expected in ("apparmor.name", "seccomp.name", "networks.bridges.<key>", "networks.overlays.<key>",
                     "sysctl.file", "networks.bridges.<value>.bridge_name",
                     "networks.bridges.<value>.labels.<key>", "docker.daemon.log-opts.<value>",
                     "docker.passthrough.<key>"):
        assert expected in ids, expected


def refused(path, value) -> bool:
    doc, key = place(path, value)
    return any(p.key == key for p in schema.validate("h1", doc))


SAFE_WORD = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:/@+=-")


@pytest.mark.parametrize("path,kind", [f for f in FIELDS if f[1] == "name"], ids=lambda f: field_id(f) if isinstance(f, tuple) else f)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=adversarial)
def test_name_fields_accept_only_plain_words(path, kind, value):
    """A name that reaches a host is refused unless it is a plain word not starting with '-'."""
    if not refused(path, value):
        assert set(value) <= SAFE_WORD and not value.startswith("-"), (field_id(path), value)


# ---- free text: carried as one word in every command, harmless when run -----------------------

def _sandbox(tmp: Path) -> Path:
    """An empty root with /bin/sh and touch (and their libraries) and nothing else."""
    root = tmp / "root"
    for binary, name in (("/bin/sh", "sh"), (shutil.which("touch"), "touch")):
        (root / "bin").mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(binary), root / "bin" / name)
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
        for line in ldd.splitlines():
            words = [w for w in line.split() if w.startswith("/")]
            for lib in words:  # at the path the loader asks for, with the real file's bytes
                dst = root / lib.lstrip("/")
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(os.path.realpath(lib), dst)
    (root / "tmp").mkdir(exist_ok=True)
    probe = subprocess.run([CHROOT, str(root), "/bin/sh", "-c", "echo ready"], capture_output=True, text=True)
    assert probe.stdout.strip() == "ready", f"sandbox shell does not run: {probe.stderr}"
    return root


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the chroot sandbox needs root")
    return _sandbox(tmp_path_factory.mktemp("sb"))


def commands_for(state: dict) -> list[str]:
    """Every command string the operations and facts would build from this state."""
    cmds = []
    aa = state["apparmor"]
    profile = apparmor_plans.render(aa)
    cmds += [fprofiles.AppArmorState().command(profile_name=aa["name"]),
             fprofiles.ProfileCheck().command(content=profile)]
    cmds += _op(apparmor.profile, {"AppArmorState": {"enabled": True, "parser": True, "file_sha256": None,
                                                     "loaded": None},
                                   "ProfileCheck": {"ok": True, "message": ""}},
                profile_name=aa["name"], content=profile)
    cmds += _op(seccomp.profile, {"Sha256File": None}, profile_name=state["seccomp"]["name"],
                content=seccomp_plans.render(state["seccomp"]))
    content = docker_plans.render(state)
    cmds.append(fengine.DaemonConfigCheck().command(content=content))
    cmds.append(docker.rollout_script(content, 10))
    for name, spec in state["networks"]["bridges"].items():
        cmds.append(networks.create_command(name, "bridge", spec))
        cmds.append(networks.connect_command(name, "c1", {"aliases": [name]}, spec.get("subnet")))
    for name, spec in state["networks"]["overlays"].items():
        cmds.append(networks.create_command(name, "overlay", spec))
    keys = tuple(k.lstrip("-") for k in state["sysctl"]["settings"])
    cmds.append(fkernel.SysctlState().command(keys=keys))
    cmds.append(sysctl.takeover_command("/etc/sysctl.d/99-x.conf", list(keys), state["sysctl"]["file"]))
    return cmds + package_commands(state)


KEY = REPO / "tests" / "unit" / "specs" / "keys" / "docker-repo.asc"
ENGINE = {"package": None, "package_version": None, "packages": {}, "held": [], "package_failed": {},
          "apt": {"apt_key": None, "apt_source": None, "apt_pin": None}, "enabled": True, "active": True,
          "os": {"ID": "debian", "VERSION_ID": "12", "VERSION_CODENAME": "bookworm"}}


def package_commands(state: dict) -> list[str]:
    """The engine package's commands (last, so that a state without them still lines up with
    the benign one): the apt files from a repository and a pin, and the version rollout, as the
    data would give them with the repository as the source, when that data is valid."""
    conf = model.deep_merge(state["docker"], {"source": "repository", "version": state["docker"]["version"] or "1.0",
                                              "repository": {"key": str(KEY)}})
    if schema.validate("h1", model.deep_merge(state, {"docker": conf})):
        return []  # refused as a repository's data: nothing of it reaches a host
    installed = dict(ENGINE, package=conf["package"], package_version="0.9", packages={conf["package"]: "0.9"})
    return [*_op(docker.engine, {"DockerEngine": dict(ENGINE)}, package=conf["package"], conf=conf),
            package.rollout_script(conf, installed, 10)]


def _op(op, facts, **kwargs):
    from tests.unit.harness import run
    commands, _ = run(op, facts, **kwargs)
    return [c for c in commands if isinstance(c, str)]


TEXT_FIELDS = [f for f in FIELDS if f[1] == "text"]


@pytest.mark.parametrize("path,kind", TEXT_FIELDS, ids=lambda f: field_id(f) if isinstance(f, tuple) else f)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=adversarial)
def test_free_text_is_one_word_and_harmless(path, kind, value, sandbox):
    doc, key = place(path, value)
    state = model.deep_merge(DEFAULTS, with_siblings(doc, path))
    problems = schema.validate("h1", state)
    if problems:  # refused: by this field, naming the host, the key and the value
        assert [p for p in problems if (p.host, p.key) == ("h1", key) and value in str(p.value)
                or value in p.key], (field_id(path), value, [str(p) for p in problems])
        return  # nothing reaches a host
    benign = commands_for(model.deep_merge(DEFAULTS, with_siblings(place(path, "benign")[0], path)))
    for cmd, ref in zip(commands_for(state), benign):
        if value in cmd and "\n" not in value:
            assert len(shlex.split(cmd)) == len(shlex.split(ref)), (field_id(path), value, cmd[:300])
        marker = sandbox / MARK.lstrip("/")
        marker.unlink(missing_ok=True)
        subprocess.run([CHROOT, str(sandbox), "/bin/sh", "-c", cmd], capture_output=True, timeout=20,
                       env={"PATH": "/bin"})
        assert not marker.exists(), (field_id(path), value, cmd[:300])


def test_control_the_sandbox_sees_an_unquoted_paste(sandbox):
    """The check above can fail: the same payload pasted unquoted creates the marker."""
    marker = sandbox / MARK.lstrip("/")
    marker.unlink(missing_ok=True)
    subprocess.run([CHROOT, str(sandbox), "/bin/sh", "-c", f"grep '^{PAYLOADS[8]} (' /dev/null"],
                   capture_output=True, timeout=20, env={"PATH": "/bin"})
    assert marker.exists()
    marker.unlink()


def test_control_text_fields_reach_the_commands():
    """A free-text value accepted by validation does show up in the commands examined."""
    state = model.deep_merge(DEFAULTS, {"networks": {"bridges": {"backend": {"labels": {"team": "a;b"}}}}})
    assert not schema.validate("h1", state)
    assert any("team=a;b" in shlex.split(c) for c in commands_for(state))
    # The engine's repository and version reach the apt files and the rollout, quoted.
    state = model.deep_merge(DEFAULTS, {"docker": {"version": "1.0~x*", "repository": {"url": "https://h/~x%20{id}"}}})
    assert not schema.validate("h1", state)
    commands = commands_for(state)
    assert any("URIs: https://h/~x%20debian" in w for c in commands for w in shlex.split(c))
    assert any("Pin: version 1.0~x*" in w for c in commands for w in shlex.split(c))
