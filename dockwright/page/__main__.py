"""python -m dockwright.page OUT.html REPORT.json... [--previous OLD.json...]

One self-contained HTML page from dockwright's JSON reports (drift, diagnose, the verification's
reports/verify.json, netbench; merged shards too). Earlier drift or diagnose reports given with
--previous draw the trend; a netbench report's figure (its .png beside it) is embedded.
Exit 0 when written; 1 when a report cannot be read; 64 a usage error.
"""

import json
import sys
import time
from pathlib import Path

from . import kind_of, write
from ..cli import EXIT_FAILURE, EXIT_OK, Parser


def _read(paths: list[str]) -> list[tuple[Path, dict]] | None:
    out = []
    for p in paths:
        try:
            doc = json.loads(Path(p).read_text())
            kind_of(doc)
        except (OSError, ValueError) as e:
            print(f"dockwright page: {p}: {e}", file=sys.stderr)
            return None
        out.append((Path(p), doc))
    return out


def main(argv=None) -> int:
    parser = Parser(prog="python -m dockwright.page", description=__doc__.split("\n\n")[1])
    parser.add_argument("out", help="the page to write (.html)")
    parser.add_argument("reports", nargs="+", help="this run's JSON reports")
    parser.add_argument("--previous", nargs="*", default=[], help="earlier drift or diagnose reports, for the trend")
    args = parser.parse_args(argv)
    started = time.monotonic()
    now, before = _read(args.reports), _read(args.previous)
    if now is None or before is None:
        return EXIT_FAILURE
    png = next((p.with_suffix(".png").read_bytes() for p, doc in now
                if kind_of(doc) == "netbench" and p.with_suffix(".png").exists()), None)
    path = write(Path(args.out), [doc for _, doc in now], [doc for _, doc in before], png)
    print(f"dockwright page: {path} ({path.stat().st_size // 1024} KiB, {time.monotonic() - started:.1f} s)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
