"""The commands a scheduled run is made of, each ``dockwright SUBCOMMAND`` and a checkout's
top-level script: drift (detection and correction) and diagnose (the fleet's networking)."""

import json
from pathlib import Path

from ..cli import EXIT_FAILURE, write_atomic


def write_outputs(args, report: dict, registry) -> None:
    """A fleet command's report where its command line asks: --json (0600), --html (the fleet
    page) and --metrics (the textfile from ``registry(report, success)``); the last success
    advances only with a verdict that holds (exit 0 or 2)."""
    if args.json:
        write_atomic(Path(args.json), json.dumps(report, indent=1, sort_keys=True, default=str) + "\n")
    if getattr(args, "html", None):
        from dockwright import page
        page.write(Path(args.html), [report])
    if args.metrics:
        from dockwright import metrics
        path = Path(args.metrics)
        success = report["finished"] if report["exit_code"] != EXIT_FAILURE else metrics.last_success(path)
        metrics.write(path, registry(report, success), success)
