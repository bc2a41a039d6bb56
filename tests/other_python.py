"""The unit and integration tests on the newest Python Debian ships (3.13 in trixie), in a chroot that mmdebstrap
builds from Debian's archive, as the lab builds its images (root needed).

    python tests/other_python.py [SUITE] [PYTEST ARGS...]      (make unit-newest-python)

The chroot is built once per suite and kept under the lab's cache; each run copies this
checkout's committed and uncommitted files into it (git ls-files), makes a fresh venv there
with the test extra, and runs the unit tests with that venv's Python. Exit: pytest's.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lab import config, image  # noqa: E402

# What the unit tests need of the system besides Python: git (the package check's build), ssh
# tools (the liveness test's keys), iproute2 and procps (commands some tests run).
PACKAGES = ["python3", "python3-venv", "ca-certificates", "git", "openssh-client", "iproute2", "procps",
            "systemd", "make"]


def chroot_dir(suite: str) -> Path:
    return config.CACHE_DIR / "chroots" / f"{suite}-python"


def build(suite: str) -> Path:
    root = chroot_dir(suite)
    if (root / "ready").exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    print(f"other python: building a {suite} chroot (a few minutes) ...", flush=True)
    subprocess.run(["mmdebstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), suite, str(root),
                    image.mirror()], check=True)
    (root / "ready").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    return root


def run(root: Path, script: str) -> int:
    """script in the chroot, with /proc, /dev and /sys mounted for it (in a mount namespace of
    its own: nothing stays mounted afterwards), this machine's resolver and its CA bundle (pip
    reaches the package index the way this machine does)."""
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "etc" / "ssl" / "certs" / "ca-certificates.crt")
    inner = (f"mount -t proc proc {root}/proc && mount --rbind /dev {root}/dev && "
             f"mount --rbind /sys {root}/sys && exec chroot {root} /bin/sh -ec \"$0\"")
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", inner, script]).returncode


def main(argv: list[str]) -> int:
    suite = argv[0] if argv and not argv[0].startswith("-") else "trixie"
    extra = argv[1:] if argv and not argv[0].startswith("-") else argv
    if os.geteuid() != 0:
        print("other python: needs root (mmdebstrap and chroot)", file=sys.stderr)
        return 1
    root = build(suite)
    work = root / "work"
    if work.exists():
        shutil.rmtree(work)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        src = REPO / name
        if src.is_file() or src.is_symlink():
            dst = work / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
            else:
                shutil.copy2(src, dst)
    script = ("cd /work && python3 --version && python3 -m venv /work/.venv && "
              "/work/.venv/bin/pip install -q -e '.[test]' -e ./bench && "
              "/work/.venv/bin/python -m pytest -q -p no:cacheprovider -m 'not rebuild' tests/unit tests/integration "
              + " ".join(f"'{a}'" for a in extra))
    return run(root, script)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
