"""Where the lab keeps its files and what fleet it boots."""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GUEST_DIR = Path(__file__).resolve().parent / "guest"

# Outside the repo: images are big and shared by every clone on the machine.
CACHE_DIR = Path(os.environ.get("DOCKWRIGHT_LAB_CACHE", Path.home() / ".cache" / "dockwright"))
IMAGE_ROOT = CACHE_DIR / "images"
# Images are shared; the running lab (state, pid files, sockets, disks) belongs to one checkout,
# so two clones on one machine each get their own VMs, ports and data switch.
CHECKOUT_ID = f"{REPO.name}-{hashlib.sha256(str(REPO).encode()).hexdigest()[:8]}"
RUN_DIR = Path(os.environ.get("DOCKWRIGHT_LAB_RUN", CACHE_DIR / "run" / CHECKOUT_ID))
STATE_FILE = RUN_DIR / "state.json"

# Debian releases the lab boots, and the packages of each image.
_COMMON = [
    "systemd-sysv", "openssh-server", "docker.io", "apparmor", "iproute2", "iptables", "conntrack",
    "kmod", "procps", "udev", "ifupdown", "isc-dhcp-client", "linux-image-cloud-amd64",
    "busybox-static", "tcpdump", "python3", "sudo",
]
# Debian unstable moves: its engine and what it stands on are pinned to the versions the lab was
# proven with, so that a new upload fails the build by name instead of changing the lab silently.
SID_PINS = {"docker.io": "28.5.2+dfsg4-5", "docker-cli": "28.5.2+dfsg4-5", "containerd": "2.1.9+ds1-5",
            "runc": "1.3.6+ds1-1", "linux-image-cloud-amd64": "7.2.13-1", "apparmor": "5.0.2-5",
            "iptables": "1.8.13-1"}
SUITES = {
    # Debian 13: docker.io 26, kernel 6.12, AppArmor 4; with D-Bus, so systemd-run works (the
    # rollout runs as a transient unit). Debian 12 is kept minimal: no D-Bus, the fallback.
    "trixie": [*_COMMON, "docker-cli", "dbus"],
    # Debian 12: docker.io 20.10 (client included), kernel 6.1, AppArmor 3; with ufw installed and
    # off (the host-firewall scenario turns it on: tests/e2e/test_15_host_firewall.py).
    "bookworm": [*_COMMON, "ufw"],
    # Debian unstable: docker.io 28.5 (DOCKER-FORWARD, ip6tables on by default), containerd 2.
    # (isc-dhcp-client is gone from it: ifupdown takes dhcpcd.)
    "sid": [*(p for p in _COMMON if p not in SID_PINS and p != "isc-dhcp-client"), "dhcpcd-base", "dbus",
            *(f"{k}={v}" for k, v in SID_PINS.items())],
}
IMAGE_SIZE = "4G"
MEMORY_MB = int(os.environ.get("DOCKWRIGHT_LAB_MEMORY", "1024"))
CPUS = int(os.environ.get("DOCKWRIGHT_LAB_CPUS", "2"))
BOOT_TIMEOUT = int(os.environ.get("DOCKWRIGHT_LAB_BOOT_TIMEOUT", "900"))
# A boot attempt with no new console output and no new stage for this long is restarted.
STALL_TIMEOUT = int(os.environ.get("DOCKWRIGHT_LAB_STALL_TIMEOUT", "240"))
BOOT_ATTEMPTS = int(os.environ.get("DOCKWRIGHT_LAB_BOOT_ATTEMPTS", "3"))


@dataclass(frozen=True)
class VMSpec:
    name: str
    data_ip: str
    groups: tuple[str, ...]
    suite: str = "trixie"


# A mixed fleet as real ones are: swarm nodes (no live-restore) and a standalone host.
FLEET = (
    VMSpec("lab1", "10.99.0.11", ("swarm_managers",)),
    # A 28.5 worker beside the 26.1 manager: a mixed-version swarm, as during any rolling upgrade.
    VMSpec("lab2", "10.99.0.12", ("swarm_workers",), os.environ.get("DOCKWRIGHT_LAB2_SUITE", "sid")),
    VMSpec("lab3", "10.99.0.13", ("standalone",), os.environ.get("DOCKWRIGHT_LAB3_SUITE", "bookworm")),
)


def spec(name: str) -> VMSpec:
    for vm in FLEET:
        if vm.name == name:
            return vm
    raise SystemExit(f"lab: no VM named {name!r} (known: {', '.join(v.name for v in FLEET)})")
