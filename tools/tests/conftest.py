"""Put tools/ on sys.path so tests import the tool modules the way `python tools/x.py` does."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
