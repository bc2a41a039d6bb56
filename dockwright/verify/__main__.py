"""The verification suite, by module name, wherever dockwright is installed:

    python -m dockwright.verify --inventory INVENTORY [--limit a,b] [pytest's own options]

It runs in the current directory, the project's (its inventories, group_data/ and reports/).
"""

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import pytest
    return int(pytest.main([str(Path(__file__).resolve().parent), *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
