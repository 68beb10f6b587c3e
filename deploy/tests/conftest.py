"""Put deploy/ and this directory on sys.path: the tests import render_gateway and k8s_model."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for directory in (HERE.parent, HERE):
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
