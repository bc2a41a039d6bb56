"""The docker plans: the engine installed and running; daemon.json against the file, the
service's own flags, the swarm and the last rollout."""

import json
import shlex
from dataclasses import dataclass

from .. import platform, secrets
from ..schema import enabled
from . import Plan, dict_diff, seccomp as seccomp_plans, sha256

# dockerd flags whose daemon.json key is not simply the flag's long name.
FLAG_KEYS = {
    "-H": "hosts", "--host": "hosts", "-D": "debug", "-l": "log-level", "-b": "bridge",
    "-G": "group", "-g": "data-root", "-p": "pidfile", "-s": "storage-driver",
    "--dns": "dns", "--label": "labels", "--log-opt": "log-opts", "--exec-opt": "exec-opts",
    "--storage-opt": "storage-opts", "--default-ulimit": "default-ulimits",
    "--registry-mirror": "registry-mirrors", "--insecure-registry": "insecure-registries",
    "--add-runtime": "runtimes", "--authorization-plugin": "authorization-plugins",
}


def unit_flags(exec_start: str, docker_opts: str) -> dict[str, str]:
    """daemon.json key -> the flag that the service already passes to dockerd."""
    found = {}
    for token in shlex.split(exec_start.replace("$DOCKER_OPTS", "")) + shlex.split(docker_opts):
        if not token.startswith("-") or token == "-":
            continue
        flag = token.split("=", 1)[0]
        key = FLAG_KEYS.get(flag) or (flag[2:] if flag.startswith("--") else None)
        if key and key != "dockerd":
            found[key] = token
    return found


def host_problems(data: dict, engine: dict, swarm_state: dict | None) -> list[tuple[str, str]]:
    """(key, why) for a candidate daemon.json (parsed) that this host's dockerd would refuse;
    swarm_state (the SwarmState fact) is needed only for a candidate with live-restore on."""
    problems = []
    flags = unit_flags(engine["exec_start"], engine["docker_opts"])
    for key in sorted(set(data) & set(flags)):
        problems.append((key, f"the docker service already passes {flags[key]} on its command "
                              "line; dockerd refuses a setting given both ways"))
    if data.get("live-restore") and swarm_state and swarm_state["state"] == "active":
        problems.append(("live-restore", "this host is a swarm node; dockerd refuses live-restore "
                                         "in swarm mode"))
    return problems


def for_validation(content: str, secret_keys: tuple = ()) -> str:
    """The candidate as dockerd --validate is given it: secrets replaced by placeholders (the
    check needs the shape, not the credential, and the command line is visible on the host)."""
    return render_json(secrets.redact(json.loads(content), secret_keys))


def render_json(doc: dict) -> str:
    """daemon.json's form: two-space indent, sorted keys, a final newline."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def live_restore(content: str) -> bool:
    """Whether this daemon.json turns live-restore on."""
    return bool(json.loads(content).get("live-restore"))


def needs_swarm_state(content: str) -> bool:
    """dockerd refuses live-restore on a swarm node: only then is the swarm's state needed."""
    return live_restore(content)


@dataclass
class EnginePlan(Plan):
    install: bool = False
    enable: bool = False
    start: bool = False


def interrupted(engine: dict) -> dict | None:
    """The journal of a rollout that swapped (or was about to swap) daemon.json and ended
    without an outcome (rollout.state still says ``result=started``), else None."""
    last = engine.get("rollout") or {}
    return last if last.get("result") == "started" else None


def engine_plan(engine: dict) -> EnginePlan:
    """The engine installed, enabled and running, against the DockerEngine fact. A dockerd
    stopped by a rollout that ended without an outcome is left to that rollout's recovery
    (daemon_plan), which judges it and rolls back: starting it here could start it on the
    candidate that stopped it."""
    p = EnginePlan()
    if problem := platform.problem(engine.get("os") or {}):
        p.problem(*problem)
        return p
    p.install, p.enable = engine["package"] is None, not engine["enabled"]
    p.start = not engine["active"] and not interrupted(engine)
    if p.install:
        p.differs("package", "installed", "absent")
    if p.enable:
        p.differs("service enabled", True, False)
    if p.start:
        p.differs("service active", True, False)
    return p


@dataclass
class DaemonPlan(Plan):
    acknowledge: dict | None = None  # the last rollout, which ended while no run was watching
    recover: dict | None = None  # the journal of a rollout that ended without an outcome
    apply: bool = False  # roll the content out


def daemon_plan(content: str, engine: dict, swarm_state: dict | None, secret_keys: tuple = (),
                retry_failed: bool = False) -> DaemonPlan:
    """
    daemon.json ``content`` against the DockerEngine fact (and SwarmState when
    ``needs_swarm_state``): every differing key (secrets masked), what dockerd would refuse on
    this host, and a candidate rolled back before, which is not tried again unless
    ``retry_failed``.
    """
    p, data = DaemonPlan(), json.loads(content)
    journal = interrupted(engine)
    if journal:  # recovered first; the content is planned by the run after that
        p.recover = journal
        p.differs("daemon.json: rollout ended without an outcome", "finished",
                  f"started at {journal.get('at')}")
        return p
    last = engine.get("rollout") or {}
    if last.get("seen") == "0":
        p.acknowledge = last
        p.differs("daemon.json: unwatched rollout", "seen", last.get("result"))
    for key, why in host_problems(data, engine, swarm_state):
        value = data.get(key)
        p.problem(key, secrets.shown(value, key, secret_keys), why)
    if engine["daemon_json"] == content:
        return p
    sha = sha256(content)  # the rollout script records a rolled-back candidate by this same hash
    failed = engine.get("failed") or {}
    if failed.get("sha256") == sha and not retry_failed:
        p.differs("daemon.json: candidate rolled back before, not retried", f"sha256:{sha[:12]}", failed.get("reason"))
        p.refusal = (f"this daemon.json (sha256 {sha[:12]}) was rolled back at {failed.get('at')}: "
                     f"{failed.get('reason')}; not tried again. Change the data, or retry it with "
                     "--data 'docker={\"retry_failed\": true}'")
        return p
    try:
        current = json.loads(engine["daemon_json"]) if engine["daemon_json"] else {}
    except ValueError as e:  # summarised, never echoed: the file may hold secrets
        p.differs("daemon.json", "(valid JSON)", secrets.summary(engine["daemon_json"], str(e)))
        p.apply = not p.problems
        return p
    for key, want, have in dict_diff(data, current):
        p.differs(f"daemon.json: {key}", *secrets.masked_item(key, want, have, secret_keys))
    p.apply = not p.problems
    return p


def render(state: dict) -> str:
    """daemon.json from the merged data: modelled keys, pass-through keys, the seccomp default."""
    docker = state.get("docker", {})
    content = dict(docker.get("daemon", {}))
    content.update(docker.get("passthrough", {}))
    seccomp = state.get("seccomp", {})
    if enabled(state, "seccomp") and seccomp.get("default"):
        content["seccomp-profile"] = seccomp_plans.path_for(seccomp["name"])
    return render_json(content)


def quorum_problem(lines: list[str]) -> str | None:
    """Why restarting this manager is not safe, from QUORUM_QUERY's output: the other managers
    would not hold quorum, or the state could not be read (fails closed). None when safe."""
    if not lines or any(line.startswith(("info-failed", "nodes-failed")) for line in lines):
        return ("cannot read the swarm's state on this manager ("
                + (", ".join(line for line in lines if "failed" in line) or "no answer")
                + "): not restarting it")
    state = next((line.split()[1:] for line in lines if line.startswith("state ")), [])
    if state != ["active", "true"]:
        return None  # not an active manager: there is no quorum to keep while it restarts
    node_ls = [line[5:] for line in lines if line.startswith("node ")]
    managers = [line.split() for line in node_ls if len(line.split()) == 2]
    total = len(managers)
    others_up = sum(1 for self_, status in managers if self_ == "false" and status in ("Leader", "Reachable"))
    if total <= 1:
        return None  # a single manager: there is no quorum to keep while it restarts
    need = total // 2 + 1
    if others_up < need:
        return (f"restarting this manager would leave {others_up} of {total} managers reachable; "
                f"the swarm needs {need} for quorum")
    return None


def restart_slot(manager: bool, batch: int) -> tuple[str, int]:
    """(key, size) of the restarts this host waits its turn with: managers one at a time (the
    quorum), other hosts with the same restart_batch that many at a time."""
    return ("managers", 1) if manager else (f"batch-{batch}", batch)
