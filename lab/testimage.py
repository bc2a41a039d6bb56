"""Builds the lab's local test image (busybox + the dwprobe binary) inside each VM.

The VMs cannot reach a registry, so the image is made from what the VM has (busybox-static)
and a static probe compiled here.
"""

import base64
import hashlib
import subprocess
from pathlib import Path

from . import config

IMAGE = "dw-test:latest"
PROBE_SRC = Path(__file__).resolve().parent / "probe.c"

_BUILD = f"""set -e
d=$(mktemp -d)
mkdir -p $d/bin $d/etc $d/tmp $d/root
cp /bin/busybox $d/bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox $d/bin/$a; done
base64 -d > $d/bin/dwprobe && chmod 755 $d/bin/dwprobe
printf 'root:x:0:0:root:/root:/bin/sh\\nnobody:x:65534:65534:nobody:/:/bin/false\\n' > $d/etc/passwd
printf 'root:x:0:\\nnogroup:x:65534:\\n' > $d/etc/group
tar -C $d -c . | docker import -c 'CMD ["sh"]' -c 'ENV PATH=/bin' -c "LABEL dw.probe=$DW_PROBE" - {IMAGE} >/dev/null
rm -rf $d
"""


def probe_binary() -> Path:
    out = config.RUN_DIR / "dwprobe"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.stat().st_mtime < PROBE_SRC.stat().st_mtime:
        subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", str(out), str(PROBE_SRC)],
                       check=True)
    return out


def probe_hash() -> str:
    return hashlib.sha256(PROBE_SRC.read_bytes()).hexdigest()[:16]


def present_command() -> str:
    """Prints 'present' when the VM has the test image built from the current probe."""
    return (f"[ \"$(docker image inspect -f '{{{{index .Config.Labels \"dw.probe\"}}}}' {IMAGE} "
            f"2>/dev/null)\" = {probe_hash()} ] && echo present || echo missing")


def load(name: str) -> None:
    from .vm import run
    probe = base64.b64encode(probe_binary().read_bytes()).decode()
    run(name, f"DW_PROBE={probe_hash()}\n" + _BUILD, input=probe, timeout=600)
    print(f"lab: {name} has {IMAGE}", flush=True)
