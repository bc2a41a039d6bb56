"""The Docker engine and /etc/docker/daemon.json: validated, restarted only on change, a few
hosts at a time, and rolled back when the daemon does not come back healthy."""

import base64
import json
import re
import shlex

from pyinfra import host
from pyinfra.api import FactBase, FunctionCommand, OperationError, StringCommand, operation

from . import factcache, report, secrets, templating

DAEMON_JSON = "/etc/docker/daemon.json"
VALIDATE_SINCE = (23, 0)  # dockerd --validate appeared in Engine 23

# dockerd flags whose daemon.json key is not simply the flag's long name.
FLAG_KEYS = {
    "-H": "hosts", "--host": "hosts", "-D": "debug", "-l": "log-level", "-b": "bridge",
    "-G": "group", "-g": "data-root", "-p": "pidfile", "-s": "storage-driver",
    "--dns": "dns", "--label": "labels", "--log-opt": "log-opts", "--exec-opt": "exec-opts",
    "--storage-opt": "storage-opts", "--default-ulimit": "default-ulimits",
    "--registry-mirror": "registry-mirrors", "--insecure-registry": "insecure-registries",
    "--add-runtime": "runtimes", "--authorization-plugin": "authorization-plugins",
}


def render(state: dict) -> str:
    """daemon.json from the merged data: modelled keys, pass-through keys, the seccomp default."""
    docker = state.get("docker", {})
    content = dict(docker.get("daemon", {}))
    content.update(docker.get("passthrough", {}))
    seccomp = state.get("seccomp", {})
    if state.get("concerns", {}).get("seccomp") and seccomp.get("default"):
        content["seccomp-profile"] = f"/etc/docker/seccomp/{seccomp['name']}.json"
    return json.dumps(content, indent=2, sort_keys=True) + "\n"


def parse_version(text: str | None) -> tuple[int, ...] | None:
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", text or "")
    return tuple(int(x) for x in m.groups()) if m else None


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


class DockerEngine(FactBase):
    """
    The engine's state in one command: package, version, service, unit flags, daemon.json.

    Returns ``{"package", "version", "enabled", "active", "exec_start", "docker_opts",
    "daemon_json", "swarm"}``; ``daemon_json`` is the file's text or None.
    """

    def command(self):
        return (
            "echo @@package; dpkg-query -W -f='${Package} ${Status}\\n' docker.io docker-ce 2>/dev/null "
            "| awk '/install ok installed/ {print $1}'; "
            "echo @@version; dockerd --version 2>/dev/null; "
            "echo @@enabled; systemctl is-enabled docker.service 2>/dev/null; "
            "echo @@active; systemctl is-active docker.service 2>/dev/null; "
            "echo @@exec_start; systemctl cat docker.service 2>/dev/null | sed -n 's/^ExecStart=//p'; "
            "echo @@docker_opts; sed -n 's/^[[:space:]]*DOCKER_OPTS=//p' /etc/default/docker 2>/dev/null; "
            "echo @@swarm; timeout 20 docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; "
            f"echo @@daemon_json; [ -f {DAEMON_JSON} ] && base64 -w0 {DAEMON_JSON} && echo; true"
        )

    def process(self, output):
        sections: dict[str, list[str]] = {}
        current = None
        for line in output:
            if line.startswith("@@"):
                current = line[2:]
                sections[current] = []
            elif current:
                sections[current].append(line)

        def one(name):
            lines = [x for x in sections.get(name, []) if x.strip()]
            return lines[-1].strip() if lines else None

        raw = one("daemon_json")
        exec_lines = [x for x in sections.get("exec_start", []) if x.strip()]
        return {
            "package": one("package"),
            "version": parse_version(one("version")),
            "enabled": one("enabled") == "enabled",
            "active": one("active") == "active",
            "exec_start": exec_lines[-1] if exec_lines else "",
            "docker_opts": (one("docker_opts") or "").strip("\"'"),
            "swarm": one("swarm"),
            "daemon_json": base64.b64decode(raw).decode() if raw else None,
        }


class DaemonConfigCheck(FactBase):
    """
    ``dockerd --validate`` on a candidate daemon.json, in a temporary file that is removed.

    Returns ``{"supported": bool, "ok": bool, "message": str}``.
    """

    def command(self, content: str):
        b64 = base64.b64encode(content.encode()).decode()
        return (
            "if ! dockerd --help 2>&1 | grep -q -- --validate; then echo unsupported; exit 0; fi; "
            "f=$(mktemp); printf '%s' " + shlex.quote(b64) + " | base64 -d > \"$f\"; "
            "if out=$(dockerd --validate --config-file \"$f\" 2>&1); then echo ok; "
            "else echo rejected; printf '%s\\n' \"$out\"; fi; rm -f \"$f\""
        )

    def process(self, output):
        first = output[0].strip() if output else "unsupported"
        return {"supported": first != "unsupported", "ok": first in ("ok", "unsupported"),
                "message": " ".join(x.strip() for x in output[1:])}


def host_problems(content: str, engine: dict) -> list[tuple[str, str]]:
    """(key, why) for a candidate daemon.json that this host's dockerd would refuse."""
    problems = []
    data = json.loads(content)
    flags = unit_flags(engine["exec_start"], engine["docker_opts"])
    for key in sorted(set(data) & set(flags)):
        problems.append((key, f"the docker service already passes {flags[key]} on its command "
                              "line; dockerd refuses a setting given both ways"))
    if data.get("live-restore") and engine["swarm"] == "active":
        problems.append(("live-restore", "this host is a swarm node; dockerd refuses live-restore "
                                         "in swarm mode"))
    return problems


@operation()
def engine(package: str = "docker.io"):
    """
    Docker installed, enabled and running.

    + package: ``docker.io`` (Debian) or ``docker-ce`` (Docker's packages; their apt source must
      be configured)

    **Example:**

    .. code:: python

        docker.engine(name="Docker engine", package="docker.io")
    """
    state = factcache.get(host, DockerEngine)
    if state["package"] is None:
        pkgs = "docker.io docker-cli" if package == "docker.io" else "docker-ce docker-ce-cli containerd.io"
        yield f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q {pkgs}"
    if not state["enabled"]:
        yield "systemctl enable docker.service"
    if not state["active"]:
        yield "systemctl start docker.service"


def _halted(state) -> str | None:
    return getattr(state, "_dockwright_rollout_failed", None)


def _apply(state, host, script: str):
    """Runs the install-restart-gate script; on the first unhealthy host, halts the rollout."""
    failed = _halted(state)
    if failed:
        host.log_styled(f"daemon.json not applied: the rollout stopped after {failed} failed",
                        fg="red")
        return False
    status, output = host.run_shell_command(StringCommand(script), print_output=False)
    lines = [line for line in output.output_lines if line.strip()]
    result = next((x.split(":", 1)[1].strip() for x in lines if x.startswith("dockwright-result:")),
                  "unknown")
    for line in lines:
        if not line.startswith("dockwright-result:"):
            host.log(f"daemon.json: {line}")
    if status and result == "applied":
        return True
    if result != "rejected":
        # Unhealthy after restart (rolled back or not): do not restart any further host.
        state._dockwright_rollout_failed = host.name
    return False


@operation()
def daemon_config(content: str, health_timeout: int = 240, path: str = DAEMON_JSON,
                  secret_keys: tuple = ()):
    """
    Install ``content`` as daemon.json when it differs; validate it, back up the old file,
    restart dockerd and wait until it is healthy, or roll back.

    Health: dockerd active, ``docker info`` answers, containers that were running are running
    again (with the same start time when live-restore was on), swarm nodes back to active.
    Run it with ``_parallel=N`` to restart at most N hosts at a time; after the first host
    that fails, the remaining hosts are not restarted.

    + content: the full daemon.json text
    + health_timeout: seconds dockerd has to come back before the rollback
    + path: the daemon.json path
    + secret_keys: dotted keys whose values are never shown (known credential keys always are)

    **Example:**

    .. code:: python

        docker.daemon_config(name="daemon.json", content=docker.render(state), _parallel=1)
    """
    engine_state = factcache.get(host, DockerEngine)
    if engine_state["daemon_json"] == content:
        host.noop("daemon.json is up to date")
        return
    try:
        current = json.loads(engine_state["daemon_json"]) if engine_state["daemon_json"] else {}
    except ValueError:
        current = {"(unparseable)": engine_state["daemon_json"]}
    for key, want, have in report.dict_diff(json.loads(content), current):
        report.drift(host, "docker", f"daemon.json: {key}", *secrets.masked_item(key, want, have, secret_keys))
    problems = host_problems(content, engine_state)
    if problems:
        raise OperationError("; ".join(f"daemon.json {k}: {why}" for k, why in problems))
    script = templating.render(
        "docker/daemon-apply.sh.j2", path=path, timeout=health_timeout,
        content_b64=base64.b64encode(content.encode()).decode())
    yield FunctionCommand(_apply, (script,), {})
