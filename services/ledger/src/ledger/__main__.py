"""`python -m ledger` serves; `python -m ledger migrate` upgrades its database and exits."""

from __future__ import annotations

import sys

from keel_runtime.cli import main
from ledger.bootstrap import DEFINITION

if __name__ == "__main__":
    sys.exit(main(DEFINITION))
