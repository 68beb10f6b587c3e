"""Put tools/ and gateway/ on sys.path so tests import them as `make gen` and the devstack do."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for directory in (ROOT / "tools", ROOT / "gateway"):
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
