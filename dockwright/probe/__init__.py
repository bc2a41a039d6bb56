"""The probe image: dwprobe (dwprobe.c), a static binary for each host architecture, brought to
a host as a one-file image made with `docker import`. Nothing is pulled from a registry and
nothing must be on the host first.

The binaries ship prebuilt (prebuilt/, with the hash of the source they were built from): a
controller needs no compiler. Where dwprobe.c differs from that source (someone is changing the
probe), it is built here with zig's C compiler (the `probe` extra: `ziglang`), which gives the
same bytes on any machine; `python -m dockwright.probe build` refreshes prebuilt/.

Every binary is checked against its sha256 before it is used (prebuilt/SHA256SUMS, committed
beside them; a cached build against the hash written when it was built): these binaries run as
root in every container's namespace, so a changed byte stops the run, naming the file.

The image's tag is the hash of what it holds, so a host that has the tag has this very probe;
`ensure_command` imports it only when it is missing and removes older probe images.
"""

import base64
import functools
import bz2
import hashlib
import importlib.util
import io
import os
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "dwprobe.c"
PREBUILT = Path(__file__).resolve().parent / "prebuilt"
REPOSITORY = "dockwright-probe"
# `uname -m` -> zig's target architecture.
ARCHES = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
# One argument of a remote command may not exceed 128 KiB (MAX_ARG_STRLEN); the image travels in one.
MAX_ENCODED = 120 * 1024


def _cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "dockwright" / "probe"


def source_hash() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def prebuilt_source_hash() -> str | None:
    """The hash of the dwprobe.c the prebuilt binaries were built from (None: there are none)."""
    path = PREBUILT / "SOURCE.sha256"
    return path.read_text().split()[0] if path.exists() else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prebuilt_sums() -> dict[str, str]:
    """{binary file name: sha256} as committed in prebuilt/SHA256SUMS (empty: none committed)."""
    path = PREBUILT / "SHA256SUMS"
    if not path.exists():
        return {}
    return {name: digest for digest, name in (line.split() for line in path.read_text().splitlines() if line.strip())}


def checked(path: Path, expected: str | None) -> bytes:
    """path's bytes, when their sha256 is the expected one; otherwise an error naming the file."""
    data = path.read_bytes()
    if expected is None:
        raise RuntimeError(f"the probe binary {path} has no recorded sha256: refusing to run it")
    if _digest(data) != expected:
        raise RuntimeError(f"the probe binary {path} does not match its recorded sha256 "
                           f"({_digest(data)[:16]}..., expected {expected[:16]}...): refusing to run it "
                           "(restore it, or rebuild: python -m dockwright.probe build)")
    return data


def build(target: str, out: Path) -> None:
    """dwprobe.c built for zig's target architecture into out (static, musl, stripped)."""
    if importlib.util.find_spec("ziglang") is None:
        raise RuntimeError("dwprobe.c differs from the source of the prebuilt probe, and building it needs "
                           "zig's C compiler: pip install 'dockwright[probe]' (or restore dwprobe.c)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")  # test workers may build it side by side
    res = subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", f"{target}-linux-musl",
                          "-static", "-Os", "-s", "-Wall", "-o", str(tmp), str(SOURCE)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"building the probe for {target} failed: {res.stderr.strip()[-2000:]}")
    out.with_name(out.name + ".sha256").write_text(_digest(tmp.read_bytes()) + "\n")
    tmp.rename(out)


def binary(arch: str) -> bytes:
    """The static probe for `uname -m` arch: the prebuilt one while dwprobe.c is its source, else
    built once per source and kept in the user's cache."""
    target = ARCHES.get(arch)
    if not target:
        raise RuntimeError(f"no probe build for architecture {arch!r} (known: {', '.join(sorted(ARCHES))})")
    digest = source_hash()
    name = f"dwprobe-{target}"
    if prebuilt_source_hash() == digest and (PREBUILT / name).exists():
        return checked(PREBUILT / name, prebuilt_sums().get(name))
    out = _cache() / f"dwprobe-{digest[:16]}-{target}"
    if not out.exists():
        build(target, out)
    sums = out.with_name(out.name + ".sha256")
    return checked(out, sums.read_text().split()[0] if sums.exists() else None)


@functools.cache
def root_tar(arch: str) -> bytes:
    """The image's root filesystem as a tar: /dwprobe and the directories a container's mounts
    need; byte for byte the same for the same probe (fixed times and owners)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, mode in (("dev", 0o755), ("etc", 0o755), ("proc", 0o555), ("sys", 0o555), ("tmp", 0o1777)):
            d = tarfile.TarInfo(name)
            d.type, d.mode = tarfile.DIRTYPE, mode
            tar.addfile(d)
        data = binary(arch)
        f = tarfile.TarInfo("dwprobe")
        f.mode, f.size = 0o755, len(data)
        tar.addfile(f, io.BytesIO(data))
    return raw.getvalue()


@functools.cache
def archive(arch: str) -> bytes:
    """root_tar compressed for the command line. bzip2, not gzip: zlib's output changes between
    its versions (1.2.13 and 1.3.1 give other bytes for the same tar), bzip2's has not for
    decades, so controllers on different systems send the same command."""
    return bz2.compress(root_tar(arch), compresslevel=9)


def image(arch: str) -> str:
    """The image reference for arch: the repository, tagged with the hash of its root
    filesystem (never of its compressed bytes: every controller names the same probe alike)."""
    return f"{REPOSITORY}:{hashlib.sha256(root_tar(arch)).hexdigest()[:16]}"


# What the suite's state read adds: the architecture and the probe images present.
STATE_COMMAND = f"uname -m; docker images {REPOSITORY} --format '{{{{.Repository}}}}:{{{{.Tag}}}}'"


def present(state_lines: str) -> tuple[str, bool]:
    """(image for this host, whether the host has it) from STATE_COMMAND's output."""
    lines = state_lines.split()
    if not lines:
        raise RuntimeError("the host did not report its architecture")
    ref = image(lines[0])
    return ref, ref in lines[1:]


def _import(arch: str) -> str:
    encoded = base64.b64encode(archive(arch)).decode()
    if len(encoded) > MAX_ENCODED:
        raise RuntimeError(f"the probe image is {len(encoded)} bytes encoded, over the {MAX_ENCODED} a command may carry")
    return (f"echo {encoded} | base64 -d | docker import -m dockwright-probe "
            f"-c 'ENTRYPOINT [\"/dwprobe\"]' - {shlex.quote(image(arch))} >/dev/null")


def import_command(state_lines: str) -> str:
    """Imports the probe image that STATE_COMMAND's output shows missing, and removes the older
    probe images it lists (fewer docker calls than ensure_command: each costs a Go start)."""
    arch, *tags = state_lines.split()
    stale = [t for t in tags if t != image(arch)]
    return _import(arch) + (f" && {{ docker rmi {' '.join(map(shlex.quote, stale))} >/dev/null 2>&1; true; }}" if stale else "")


def ensure_command(arch: str) -> str:
    """Imports the probe image unless the host has it, then removes older probe images."""
    q = shlex.quote(image(arch))
    return (f"docker image inspect {q} >/dev/null 2>&1 || {{ {_import(arch)}; }} && "
            f"docker images {REPOSITORY} --format '{{{{.Repository}}}}:{{{{.Tag}}}}' | grep -vxF {q} | xargs -r docker rmi >/dev/null; "
            f"docker image inspect {q} >/dev/null")
