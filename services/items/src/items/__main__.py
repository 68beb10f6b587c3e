"""`python -m items` serves; `python -m items migrate` upgrades its database and exits."""

from __future__ import annotations

import sys

from items.bootstrap import DEFINITION
from keel_runtime.cli import main

if __name__ == "__main__":
    sys.exit(main(DEFINITION))
