"""JSON-lines logging to stderr with the request context attached and secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from keel_runtime.context import current_request_id, current_trace_id

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is emitted.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

# Extra keys that must never reach a log line with their value.
_SECRET_WORDS = ("authorization", "password", "secret", "token", "api_key", "apikey", "cookie")
_REDACTED = "[redacted]"

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, service, request context, extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": self._service,
        }
        if rid := current_request_id():
            entry["request_id"] = rid
        if trace_id := current_trace_id():
            entry["trace_id"] = trace_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _REDACTED if _is_secret(key) else value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


def _timestamp(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route all logging to stderr as JSON lines; safe to call again (replaces its handler)."""
    normalized = level.strip().upper()
    if normalized not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_keel", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler._keel = True  # type: ignore[attr-defined]  # marks ours for reconfiguration
    root.addHandler(handler)
    root.setLevel(normalized)
    logging.captureWarnings(True)
