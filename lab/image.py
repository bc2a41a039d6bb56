"""Builds the lab's base image once per recipe and caches it outside the repo."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import config

# Bump when the build steps below change in a way that changes the image.
RECIPE_VERSION = "1"


def recipe_hash(suite: str) -> str:
    h = hashlib.sha256()
    h.update(suite.encode())
    h.update(" ".join(config.SUITES[suite]).encode())
    h.update(config.IMAGE_SIZE.encode())
    for path in sorted(config.GUEST_DIR.iterdir()):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    h.update(RECIPE_VERSION.encode())
    return h.hexdigest()[:16]


def image_dir(suite: str = "trixie") -> Path:
    return config.IMAGE_ROOT / f"{suite}-{recipe_hash(suite)}"


def mirror() -> str:
    """The Debian mirror this machine is configured for (never hard-coded in the repo)."""
    for src in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if src.exists():
            m = re.search(r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(\S+)", src.read_text(), re.M)
            if m:
                return m.group(1)
    raise SystemExit("lab build: no Debian mirror found in /etc/apt/sources.list*")


def build(suite: str = "trixie", force: bool = False, quiet: bool = False) -> Path:
    out = image_dir(suite)
    if (out / "ready").exists() and not force:
        if not quiet:
            print(f"lab build: image {out.name} is cached in {out}")
        return out
    for tool in ("mmdebstrap", "mkfs.ext4"):
        if not shutil.which(tool):
            raise SystemExit(f"lab build: {tool} is missing; run: make lab-packages (as root)")
    if os.geteuid() != 0 and not shutil.which("genext2fs"):
        raise SystemExit("lab build: without root the build needs genext2fs and uidmap: "
                         "apt-get install mmdebstrap uidmap genext2fs (as root)")
    out.mkdir(parents=True, exist_ok=True)
    print(f"lab build: building the {suite} image (a few minutes) ...", flush=True)
    start = time.monotonic()
    guest = config.GUEST_DIR
    hooks = [
        f"--customize-hook=copy-in {guest}/dw-lab-init /usr/local/sbin",
        f"--customize-hook=copy-in {guest}/dw-lab-init.service /etc/systemd/system",
        f"--customize-hook=copy-in {guest}/setup.sh /tmp",
        '--customize-hook=chroot "$1" sh /tmp/setup.sh',
        '--customize-hook=rm -f "$1/tmp/setup.sh"',
        f'--customize-hook=sync-out /boot {out}/boot',
    ]
    # Unstable's Release file carries a Valid-Until a week ahead; a mirror that is a snapshot (as
    # this machine's may be) serves one past it. The pins (config.SID_PINS) say what is wanted.
    fresh = ['--aptopt=Acquire::Check-Valid-Until "false"'] if suite == "sid" else []
    common = ["mmdebstrap", "--variant=minbase", "--include=" + ",".join(config.SUITES[suite]),
              "--skip=check/empty", *fresh, *hooks, suite]
    with tempfile.TemporaryDirectory(dir=config.IMAGE_ROOT) as tmp:
        img = out / "base.img"
        if os.geteuid() == 0:
            root = Path(tmp) / "root"
            _run([*common, str(root), mirror()])
            _run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(root), str(img), config.IMAGE_SIZE])
        else:
            # Unprivileged: user namespaces build the tree, genext2fs writes the filesystem.
            _run([*common[:1], "--mode=unshare", "--format=ext2", *common[1:], str(img), mirror()])
            _run(["resize2fs", "-f", str(img), config.IMAGE_SIZE])
            _run(["tune2fs", "-O", "has_journal,extent", "-L", "root", str(img)])
    boot = out / "boot"
    for name, pattern in (("vmlinuz", "vmlinuz-*"), ("initrd.img", "initrd.img-*")):
        found = sorted(boot.glob(pattern))
        if not found:
            raise SystemExit(f"lab build: no {pattern} in the image's /boot")
        shutil.copy(found[-1], out / name)
    (out / "ready").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    print(f"lab build: image {out.name} built in {time.monotonic() - start:.0f} s")
    return out


def _run(cmd: list[str]) -> None:
    print("+ " + " ".join(cmd[:3]) + " ...", file=sys.stderr)
    subprocess.run(cmd, check=True)
