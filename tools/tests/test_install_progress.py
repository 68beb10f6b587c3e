"""`make install` shows one line per package and lets warnings and errors through."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "install_progress.py"

PIP_OUTPUT = """\
Collecting grpcio==1.68.1 (from -r requirements.lock (line 3))
  Downloading grpcio-1.68.1-cp311-cp311-manylinux.whl (5.9 MB)
Requirement already satisfied: six==1.16.0 in ./.venv/lib/python3.11/site-packages
Collecting protobuf==5.29.1 (from -r requirements.lock (line 4))
  Using cached protobuf-5.29.1-cp38-abi3-manylinux2014_x86_64.whl
ERROR: Could not find a version that satisfies the requirement nosuch==1.0
Installing collected packages: protobuf, grpcio
Successfully installed grpcio-1.68.1 protobuf-5.29.1
"""


def test_one_line_per_package_and_errors_pass_through(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("# pinned\ngrpcio==1.68.1\nprotobuf==5.29.1\nsix==1.16.0\n")
    done = subprocess.run(
        [sys.executable, str(TOOL), str(lock)],
        input=PIP_OUTPUT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.splitlines() == [
        "  [1/3] grpcio",
        "  [2/3] protobuf",
        "ERROR: Could not find a version that satisfies the requirement nosuch==1.0",
        "  Installing collected packages: protobuf, grpcio",
        "  Successfully installed grpcio-1.68.1 protobuf-5.29.1",
    ]
