"""Shared helpers for the devstack tests."""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
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


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def interruptible() -> Callable[[], None]:
    """`preexec_fn` for a child the test stops with SIGINT (Ctrl-C).

    A shell starting the suite in the background without job control (`make test &` in a
    script, some CI runners) makes it ignore SIGINT, and its children inherit that: Python
    then installs no KeyboardInterrupt handler, and the child never sees the test's Ctrl-C.
    """
    return _default_sigint
