"""The Docker engine's side: the package, service and daemon.json in one read, dockerd's own
check of a candidate daemon.json, and the swarm as `docker info` reports it."""

import base64
import json
import re
import shlex

from pyinfra.api import FactBase

from .. import dockerd, host_reader, platform, remote
from ..host_paths import APT_KEYRING, APT_PIN, APT_SOURCE, DAEMON_JSON, FAILED_CANDIDATE, PACKAGE_FAILED, ROLLOUT_STATE

ENGINE_PACKAGES = tuple(platform.DEBIAN.packages)  # the package that is the engine, of each flavour
# dockwright's apt files, read whole: each line after "|", so that no line of theirs can pass
# for a section marker.
APT_FILES = {"apt_key": APT_KEYRING, "apt_source": APT_SOURCE, "apt_pin": APT_PIN}


def parse_version(text: str | None) -> tuple[int, ...] | None:
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", text or "")
    return tuple(int(x) for x in m.groups()) if m else None


class DockerEngine(host_reader.PythonPart, FactBase):
    """
    The engine's state in one command: package, version, service, unit flags, daemon.json.

    Returns ``{"package", "version", "package_version", "packages", "held", "enabled", "active",
    "exec_start", "docker_opts", "daemon_json", "rollout", "failed", "package_failed", "apt", "os"}``;
    ``package_version`` is the engine package's Debian version, ``packages`` every installed
    package of the engine's flavours by name with its version, ``held`` those on hold,
    ``daemon_json`` the file's text or None, ``apt`` dockwright's apt files by name (``apt_key``,
    ``apt_source``, ``apt_pin``: their text, None when absent), ``os`` the ID, ID_LIKE,
    VERSION_ID and VERSION_CODENAME of /etc/os-release,
    ``rollout`` the outcome of the last rollout and ``failed`` the last rolled-back candidate
    (``{"sha256", "at", "reason"}``), both ``{}`` when there are none, and ``package_failed`` the
    last engine version rolled back (``{"version", "at", "reason"}``).
    """

    def command(self):
        return f"{self.fallback()}; {self.rest()}"

    def fallback(self):
        # Which package is installed is decided by process().
        return (f"echo @@package; {platform.DEBIAN.package_query}; "
                f"echo @@daemon_json; [ -f {DAEMON_JSON} ] && base64 -w0 {DAEMON_JSON} && echo; true")

    # In the host-state read, the host's reader (dockwright.host_reader) reads the packages and
    # daemon.json. The package's version is the engine's: `dockerd --version` (a large Go binary,
    # slow to start) only where no engine package is unpacked; files by the shell's own read.
    def ops(self):
        return [platform.DEBIAN.package_reader, f"base64:{DAEMON_JSON}"]

    def lines(self, answers):
        if not host_reader.answered(answers):
            return None
        return ["@@package", *answers[0], "@@daemon_json", *answers[1]]

    def rest(self):
        return f"echo @@version; {platform.DEBIAN.package_listed} || dockerd --version 2>/dev/null; " + self._files()

    @staticmethod
    def _files() -> str:
        return (
            # systemd's own resolution of the unit and its drop-ins (an empty ExecStart= resets),
            # with its state, in one call.
            "echo @@unit; systemctl show -p UnitFileState -p ActiveState -p ExecStart docker.service 2>/dev/null; "
            f"echo @@docker_opts; {remote.matching_lines(platform.DEBIAN.service_defaults, 'DOCKER_OPTS=*', strip='DOCKER_OPTS=')}; "
            f"echo @@rollout; {remote.show_file(ROLLOUT_STATE)}; "
            f"echo @@failed; {remote.show_file(FAILED_CANDIDATE)}; "
            f"echo @@package_failed; {remote.show_file(PACKAGE_FAILED)}; "
            + "".join(f"echo @@{name}; [ -f {path} ] && echo present && {remote.show_file(path, '|')}; "
                      for name, path in APT_FILES.items())
            + f"echo @@os; {remote.matching_lines('/etc/os-release', 'ID=*|ID_LIKE=*|VERSION_ID=*|VERSION_CODENAME=*')}; true"
        )

    def process(self, output):
        sections = remote.sections(output)

        def one(name):
            lines = [x for x in sections.get(name, []) if x.strip()]
            return lines[-1].strip() if lines else None

        raw = one("daemon_json")
        # "install ok installed", or "hold ok installed" for a package on hold.
        installed = [x.split() for x in sections.get("package", [])
                     if x.endswith(" ok installed") and len(x.split()) == 5 and x.split()[2] in ("install", "hold")]
        engines = [x for x in installed if x[0] in ENGINE_PACKAGES]
        package = engines[-1] if engines else []
        unit = sections.get("unit", [])
        props = parse_kv(x for x in unit if not x.startswith("ExecStart="))
        return {
            "package": package[0] if package else None,
            "package_version": package[1] if package else None,
            "packages": {x[0]: x[1] for x in installed},
            "held": sorted(x[0] for x in installed if x[2] == "hold"),
            "version": parse_version(one("version")) or parse_version(package[1] if len(package) > 1 else None),
            "enabled": props.get("UnitFileState") == "enabled",
            "active": props.get("ActiveState") == "active",
            "exec_start": exec_start([x for x in unit if x.startswith("ExecStart=")]),
            "docker_opts": (one("docker_opts") or "").strip("\"'"),
            "daemon_json": base64.b64decode(raw).decode() if raw else None,
            "rollout": parse_kv(sections.get("rollout", [])),
            "failed": parse_kv(sections.get("failed", [])),
            "package_failed": parse_kv(sections.get("package_failed", [])),
            "apt": {name: apt_file(sections.get(name)) for name in APT_FILES},
            "os": {k: v.strip().strip("\"'") for k, v in parse_kv(sections.get("os", [])).items()},
        }


def apt_file(lines: list[str] | None) -> str | None:
    """A file read as "present" and its lines after "|": its text (each line ends in a newline),
    None when it is absent."""
    if not lines or lines[0] != "present":
        return None
    return "".join(x[1:] + "\n" for x in lines[1:] if x.startswith("|"))


def exec_start(lines: list[str]) -> str:
    """The command line of the unit's effective ExecStart, from ``systemctl show -p ExecStart
    --value``: ``{ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// ; ignore_errors=no ; ... }``."""
    for line in reversed(lines):
        if "argv[]=" in line:
            return line.split("argv[]=", 1)[1].rsplit(" ; ignore_errors=", 1)[0].strip()
    return ""


class DaemonConfigCheck(FactBase):
    """
    ``dockerd --validate`` on a candidate daemon.json, in a temporary file that is removed.

    Returns ``{"ok": bool, "message": str}`` (ok when dockerd has no --validate: Engine < 23).
    """

    def command(self, content: str):
        b64 = base64.b64encode(content.encode()).decode()
        return (
            f"if ! {dockerd.HAS_VALIDATE}; then echo unsupported; exit 0; fi; "
            "f=$(mktemp); printf '%s' " + shlex.quote(b64) + " | base64 -d > \"$f\"; "
            "if out=$(dockerd --validate --config-file \"$f\" 2>&1); then echo ok; "
            "else echo rejected; printf '%s\\n' \"$out\"; fi; rm -f \"$f\""
        )

    def process(self, output):
        first = output[0].strip() if output else "unsupported"
        return {"ok": first in ("ok", "unsupported"),
                "message": " ".join(x.strip() for x in output[1:])}


def parse_kv(lines) -> dict:
    return dict(line.split("=", 1) for line in lines if "=" in line)


class SwarmState(dockerd.EngineApiFact, FactBase):
    """
    ``docker info``'s swarm section.

    Returns ``{"state", "node_id", "manager", "cluster_id", "node_addr", "remote_managers"}``, or ``dockerd.Down`` when dockerd does not answer (a stopped or hung
    daemon is never "not in a swarm").
    """

    api = "swarm"  # its part of the Engine API read it shares with DockerNetworks

    def cli(self):
        return dockerd.call(f"docker info --format '{dockerd.INFO_SERVER_ERRORS}{{{{json .Swarm}}}}{{{{end}}}}' 2>/dev/null")

    def process(self, output):
        if down := dockerd.down(output):
            return down
        info = json.loads(output[0]) if output and output[0].startswith("{") else {}
        return {
            "state": info.get("LocalNodeState") or "inactive",
            "node_id": info.get("NodeID") or None,
            "manager": bool(info.get("ControlAvailable")),
            "cluster_id": (info.get("Cluster") or {}).get("ID"),
            "node_addr": info.get("NodeAddr") or None,
            "remote_managers": sorted(m.get("Addr") for m in info.get("RemoteManagers") or []),
        }
