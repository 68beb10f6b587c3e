"""Shared helpers for the devstack tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A world-traversable directory: under root, postgres runs as another user."""
    path = Path(tempfile.mkdtemp(prefix="keel-devstack-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
