"""Drift detection and correction: ``dockwright drift`` (dockwright/commands/drift.py), run in
this checkout wherever it is started from (a timer, cron, CI)."""

import sys
from pathlib import Path

from dockwright.commands import drift

if __name__ == "__main__":
    sys.exit(drift.main(project_dir=Path(__file__).resolve().parent))
