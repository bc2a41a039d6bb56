"""The daemon's default seccomp profile: built from templates/seccomp/spec.yaml and the data,
checked as runc would check it, and planned against the file's sha256 on the host."""

import functools
import json

import yaml

from .. import templating
from ..host_paths import SECCOMP_DIR
from . import FilePlan, sha256




ARCHES = {
    "SCMP_ARCH_X86_64": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "SCMP_ARCH_AARCH64": ["SCMP_ARCH_ARM"],
}


VALID_OPS = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
             "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"}


class SeccompProfileError(ValueError):
    pass


def path_for(name: str) -> str:
    return f"{SECCOMP_DIR}/{name}.json"


SPEC = templating.TEMPLATES / "seccomp" / "spec.yaml"


def spec() -> dict:
    """The spec (templates/seccomp/spec.yaml), parsed once per content: every host of a run asks
    for it twice (preflight and the operation), and parsing it costs more than all else per host.
    The dict is shared: read it, never change it."""
    return _parse(SPEC.read_text())


@functools.cache
def _parse(text: str) -> dict:
    # libyaml's safe loader where PyYAML has it: the same documents, a tenth of the time
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def build(conf: dict, base: dict | None = None) -> dict:
    """The profile as Docker reads it, from the spec plus conf (the seccomp data)."""
    base = base or spec()
    denied_calls = set(conf.get("deny_syscalls", []))
    denied_families = set(base["socket"]["always_deny"]) | set(conf.get("deny_socket_families", []))
    errno = base["default_errno"]
    rules = [{"names": sorted(set(base["allow"]) - denied_calls), "action": "SCMP_ACT_ALLOW"}]
    for name, conds in sorted(base["allow_if"].items()):
        if name in denied_calls:
            continue
        for cond in conds:
            rules.append({"names": [name], "action": "SCMP_ACT_ALLOW", "args": [dict(cond)]})
    if "socket" not in denied_calls:
        for family in range(base["socket"]["max_family"] + 1):
            if family not in denied_families:
                rules.append({"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": family}]})
    for name, code in sorted(base["errno"].items()):
        if code != errno:  # runc drops a rule identical to the default action
            rules.append({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": code})
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno,
        "archMap": [{"architecture": a, "subArchitectures": s} for a, s in ARCHES.items()],
        "syscalls": rules,
    }
    check(profile)
    return profile


def check(profile: dict) -> None:
    """Structural checks runc would otherwise fail on at container start, for every container."""
    if profile.get("defaultAction") not in ("SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS"):
        raise SeccompProfileError(f"defaultAction {profile.get('defaultAction')!r}: must deny")
    for i, rule in enumerate(profile.get("syscalls", [])):
        if not rule.get("names") or not all(isinstance(n, str) and n for n in rule["names"]):
            raise SeccompProfileError(f"syscalls[{i}].names: expected a non-empty list of names")
        if rule.get("action") not in ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_LOG"):
            raise SeccompProfileError(f"syscalls[{i}].action {rule.get('action')!r} not supported")
        indexes = [a.get("index") for a in rule.get("args", [])]
        if len(indexes) != len(set(indexes)):
            raise SeccompProfileError(f"syscalls[{i}] ({rule['names'][0]}): several conditions on "
                                      "one argument are ORed by runc; use one rule per condition")
        for a in rule.get("args", []):
            if a.get("op") not in VALID_OPS or not isinstance(a.get("value"), int):
                raise SeccompProfileError(f"syscalls[{i}].args: bad condition {a}")


def render(conf: dict) -> str:
    """The profile's text. A fleet's hosts mostly share their seccomp data, and the profile is
    large (its text cost 13% of a no-op plan's CPU, per host): each distinct data is rendered
    once per process and spec."""
    try:
        key = json.dumps(conf, sort_keys=True)
    except (TypeError, ValueError):  # not data validation lets through: built as it is
        return _text(build(conf))
    return _render(key, SPEC.read_text())


@functools.lru_cache(maxsize=32)
def _render(conf_json: str, spec_text: str) -> str:
    return _text(build(json.loads(conf_json), _parse(spec_text)))


def _text(profile: dict) -> str:
    return json.dumps(profile, indent=1, sort_keys=True) + "\n"


def seccomp_plan(path: str, content: str, file_sha256: str | None) -> FilePlan:
    """The profile file against its sha256 on the host (None: absent)."""
    p = FilePlan(write=file_sha256 != sha256(content))
    if p.write:
        p.differs(f"{path} sha256", sha256(content), file_sha256)
    return p
