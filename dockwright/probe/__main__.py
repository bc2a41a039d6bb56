"""python -m dockwright.probe build: refreshes the prebuilt probes (prebuilt/) from dwprobe.c,
for every architecture, with zig's C compiler (the `probe` extra)."""

import hashlib
import sys

from . import ARCHES, PREBUILT, build, source_hash


def main(argv: list[str]) -> int:
    if argv != ["build"]:
        print("usage: python -m dockwright.probe build", file=sys.stderr)
        return 64
    for target in sorted(set(ARCHES.values())):
        out = PREBUILT / f"dwprobe-{target}"
        out.unlink(missing_ok=True)
        build(target, out)
        out.with_name(out.name + ".sha256").unlink()  # prebuilt/ keeps its hashes in SHA256SUMS
        print(f"dockwright probe: {out} ({out.stat().st_size} bytes)")
    (PREBUILT / "SOURCE.sha256").write_text(f"{source_hash()}  dwprobe.c\n")
    (PREBUILT / "SHA256SUMS").write_text("".join(
        f"{hashlib.sha256((PREBUILT / f'dwprobe-{t}').read_bytes()).hexdigest()}  dwprobe-{t}\n"
        for t in sorted(set(ARCHES.values()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
