"""Tracing into a directory for one block, and its spans read back: for tests and experiments."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keel_runtime import traces
from keel_runtime.tracing.provider import TracingSettings, configure, force_flush, shutdown


@contextmanager
def local_traces(
    directory: Path, service: str = "test"
) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Record this process's spans as ``service`` into ``directory/<service>.jsonl`` while the
    block runs; the callable it yields exports what has ended and returns every span there."""
    configure(service, TracingSettings(file=directory / f"{service}.jsonl"))

    def read() -> list[dict[str, Any]]:
        force_flush()
        return traces.read_spans(directory)

    try:
        yield read
    finally:
        shutdown()
