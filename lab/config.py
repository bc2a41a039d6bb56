"""Where the lab keeps its files and what fleet it boots."""

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GUEST_DIR = Path(__file__).resolve().parent / "guest"

# Outside the repo: images are big and shared by every clone on the machine.
CACHE_DIR = Path(os.environ.get("DOCKWRIGHT_LAB_CACHE", Path.home() / ".cache" / "dockwright"))
IMAGE_ROOT = CACHE_DIR / "images"
RUN_DIR = Path(os.environ.get("DOCKWRIGHT_LAB_RUN", CACHE_DIR / "run"))
STATE_FILE = RUN_DIR / "state.json"

SUITE = "trixie"
PACKAGES = [
    "systemd-sysv", "openssh-server", "docker.io", "docker-cli", "apparmor", "iproute2",
    "iptables", "conntrack", "kmod", "procps", "udev", "ifupdown", "isc-dhcp-client",
    "linux-image-cloud-amd64", "busybox-static", "tcpdump", "python3",
]
IMAGE_SIZE = "4G"
DATA_NET = "10.99.0.0/24"
MEMORY_MB = int(os.environ.get("DOCKWRIGHT_LAB_MEMORY", "1024"))
CPUS = int(os.environ.get("DOCKWRIGHT_LAB_CPUS", "2"))
BOOT_TIMEOUT = int(os.environ.get("DOCKWRIGHT_LAB_BOOT_TIMEOUT", "900"))


@dataclass(frozen=True)
class VMSpec:
    name: str
    data_ip: str
    groups: tuple[str, ...]


# A mixed fleet as real ones are: swarm nodes (no live-restore) and a standalone host.
FLEET = (
    VMSpec("lab1", "10.99.0.11", ("swarm_managers",)),
    VMSpec("lab2", "10.99.0.12", ("swarm_workers",)),
    VMSpec("lab3", "10.99.0.13", ("standalone",)),
)


def spec(name: str) -> VMSpec:
    for vm in FLEET:
        if vm.name == name:
            return vm
    raise SystemExit(f"lab: no VM named {name!r} (known: {', '.join(v.name for v in FLEET)})")
