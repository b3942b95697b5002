"""``python -m fusionlabel``: the same command as ``fusionlabel``."""

import sys

from fusionlabel.cli import main

if __name__ == "__main__":
    sys.exit(main())
