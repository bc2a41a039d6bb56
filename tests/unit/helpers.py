"""What several unit test modules share: the project's group data as a module sees it, and a
Debian docker.service's ExecStart line."""

import runpy
from pathlib import Path

GROUP_DATA = Path(__file__).resolve().parents[2] / "group_data"

# docker.service's ExecStart on Debian (docker.io), as the DockerEngine fact reads it.
UNIT = "/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS"


def group_data(name: str) -> dict:
    """group_data/<name>.py's public names, as pyinfra loads them."""
    return {k: v for k, v in runpy.run_path(str(GROUP_DATA / f"{name}.py")).items()
            if not k.startswith("_")}


def local_and_ssh_inventory(path, ssh_hosts: dict) -> str:
    """An inventory at path: this machine (@local, every concern off, so nothing is read from
    it) and the given ssh hosts ({name: host data}); returns its path."""
    off = {c: False for c in ("conntrack", "sysctl", "docker", "seccomp", "apparmor", "networks", "swarm", "verify")}
    hosts = [("@local", {"concerns": off}), *ssh_hosts.items()]
    path.write_text(f"standalone = {hosts!r}\n")
    return str(path)


def executables(directory: Path, scripts: dict[str, str]) -> Path:
    """Stand-in commands for a host-side script run by sh: each script's text written to
    directory/NAME, executable (the directory is made); the directory, for PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in scripts.items():
        (directory / name).write_text(text)
        (directory / name).chmod(0o755)
    return directory
