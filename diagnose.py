"""Fleet diagnosis: ``dockwright diagnose`` (dockwright/commands/diagnose.py), run in this
checkout wherever it is started from (a timer, cron, CI)."""

import sys
from pathlib import Path

from dockwright.commands import diagnose

if __name__ == "__main__":
    sys.exit(diagnose.main(project_dir=Path(__file__).resolve().parent))
