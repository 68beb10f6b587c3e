"""A span exporter writing JSON lines to a local file, rotated at a size bound.

``make run`` gives each service ``var/traces/<service>.jsonl``; ``python -m
keel_runtime.traces`` reads them back. One line per span, written by the batch processor's
thread, never on a request's path. When the file would pass ``max_bytes`` it becomes
``<name>.1`` (replacing the previous one), so a service keeps at most twice that on disk.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
# Built once: json.dumps with options builds an encoder per call.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":"))


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """What a line holds: ids, name, kind, service, times (ns since the epoch), status,
    attributes. The attributes are the runtime's own (never bound parameters)."""
    context = span.get_span_context()
    assert context is not None  # a span the SDK ended always has one
    parent = span.parent
    return {
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_id": f"{parent.span_id:016x}" if parent is not None else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name", ""),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


class JsonLinesExporter(SpanExporter):
    """Appends one JSON object per span to ``path``; rotates to ``path.1`` past ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 1024:
            raise ValueError("max_bytes must be at least 1024")
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.write(span_record(span) for span in spans)

    def write(self, records: Iterable[dict[str, Any]]) -> SpanExportResult:
        """Append records shaped as ``span_record``'s, one line each: also spans another
        process recorded (``make run``'s OTLP receiver writes Envoy's with it)."""
        data = "".join(_ENCODER.encode(record) + "\n" for record in records).encode()
        try:
            with self._lock:
                out = self._open(len(data))
                out.write(data)  # one write: lines of concurrent writers never interleave
                out.flush()
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def _open(self, incoming: int) -> IO[bytes]:
        out = self._file
        if out is not None and not self._same_file(out):
            out.close()  # another process rotated it
            out = None
        if out is not None and out.tell() + incoming > self.max_bytes and out.tell() > 0:
            out.close()
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            out = None
        if out is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.path, "ab")  # noqa: SIM115 - kept open across exports
            self._file = out
        return out

    def _same_file(self, out: IO[bytes]) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(out.fileno()).st_ino
        except OSError:
            return False

    def shutdown(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
