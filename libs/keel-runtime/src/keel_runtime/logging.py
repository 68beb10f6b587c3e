"""JSON-lines logging to stderr with the request context attached and secrets redacted."""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from keel_runtime.context import current_request_id, current_traceparent

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is emitted.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

# Extra keys that must never reach a log line with their value.
_SECRET_WORDS = ("authorization", "password", "secret", "token", "api_key", "apikey", "cookie")
_REDACTED = "[redacted]"

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Packages whose exception messages quote statements, bound parameters and row values
# (SQLAlchemy's "[parameters: ...]", a unique violation's DETAIL "Key (email)=(...)").
_DATA_QUOTING_PACKAGES = ("sqlalchemy", "psycopg", "psycopg_pool", "asyncpg")
_MESSAGE_REDACTED = "[message redacted]"
_STATEMENT_MAX = 500
# How format_exception links chained exceptions.
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


# Every access-log line goes through here: what can be computed once per key, per second
# or per process is, and the encoder is built once (json.dumps with options builds one
# per call).
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=1024)
def _is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, service, request context (request,
    trace and span ids), extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = self.entry(record.created, record.levelname, record.name, record.getMessage())
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _REDACTED if _is_secret(key) else value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = record.stack_info
        return _ENCODER.encode(entry)

    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        """The traceback, database errors' messages redacted (see ``redacted_traceback``)."""
        exc = ei[1]
        if exc is None:
            return super().formatException(ei)
        return redacted_traceback(exc, keep_message=lambda e: not quotes_data(e))

    def entry(self, created: float, level: str, logger: str, msg: str) -> dict[str, Any]:
        """The fields every line starts with, request context included."""
        entry: dict[str, Any] = {
            "ts": _timestamp(created),
            "level": level,
            "logger": logger,
            "msg": msg,
            "service": self._service,
        }
        if rid := current_request_id():
            entry["request_id"] = rid
        if traceparent := current_traceparent():
            # The span the line was written in (the RPC's or the event's): with tracing on,
            # the one `python -m keel_runtime.traces` shows.
            entry["trace_id"] = traceparent[3:35]
            entry["span_id"] = traceparent[36:52]
        return entry

    def format_fields(self, level: int, logger: str, msg: str, fields: dict[str, Any]) -> str:
        """The line ``format`` makes of a record logged now with ``extra=fields``."""
        entry = self.entry(time.time(), logging.getLevelName(level), logger, msg)
        for key, value in fields.items():
            entry[key] = _REDACTED if _is_secret(key) else value
        return _ENCODER.encode(entry)


def log_fields(logger: logging.Logger, level: int, msg: str, fields: dict[str, Any]) -> None:
    """``logger.log(level, msg, extra=fields)``, cheaper when only our handler would see it.

    A LogRecord, the handler chain and a formatter that has to tell extras from a record's
    own attributes cost nearly as much as the rest of a no-op RPC's server chain; the
    access log runs this per call. When the one handler a record would reach is ours, with
    no filter on the way, the same JSON line is written directly; otherwise (pytest's
    caplog, another handler or a filter added) the record goes through logging as usual.
    """
    if not logger.isEnabledFor(level):
        return
    handler = _sole_json_handler(logger, level)
    if handler is not None and isinstance(handler.formatter, JsonFormatter):
        try:
            line = handler.formatter.format_fields(level, logger.name, msg, fields)
            handler.acquire()
            try:
                handler.stream.write(line + handler.terminator)
                handler.stream.flush()
            finally:
                handler.release()
            return
        except Exception:
            pass  # the usual path below reports it, through Handler.handleError
    # makeRecord + handle is what logger.log does, minus findCaller's stack walk: the
    # caller's file and line are not part of our lines.
    logger.handle(logger.makeRecord(logger.name, level, "", 0, msg, (), None, extra=fields))


def _sole_json_handler(logger: logging.Logger, level: int) -> logging.StreamHandler[Any] | None:
    """Our handler, when it is the only one a record of ``level`` from ``logger`` reaches.

    Mirrors Logger.handle and callHandlers: the logger's own filters and ``disabled`` apply,
    then every handler up the propagation chain whose level the record meets.
    """
    if logger.disabled or logger.filters:
        return None
    found: logging.StreamHandler[Any] | None = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if level < handler.level:
                continue
            if found is not None or not getattr(handler, "_keel", False) or handler.filters:
                return None
            found = handler  # type: ignore[assignment]  # _keel marks our StreamHandler
        current = current.parent if current.propagate else None
    return found


def quotes_data(exc: BaseException) -> bool:
    """Whether ``exc``'s message may quote data: it comes from SQLAlchemy or a database driver."""
    return type(exc).__module__.split(".", 1)[0] in _DATA_QUOTING_PACKAGES


def exception_fields(exc: BaseException, *, with_traceback: bool = True) -> dict[str, str]:
    """What can be logged of a failure nobody expected, with nothing it may carry of data:
    its type, the SQLSTATE and SQL text (placeholders, never parameters) of a database
    error, and a traceback without any exception message (``redacted_traceback``)."""
    fields = {"error_type": type_name(exc)}
    driver_error = getattr(exc, "orig", None) or exc
    sqlstate = getattr(driver_error, "sqlstate", None)
    if isinstance(sqlstate, str):
        fields["sqlstate"] = sqlstate
    statement = getattr(exc, "statement", None)
    if isinstance(statement, str):
        fields["statement"] = statement[:_STATEMENT_MAX]
    if with_traceback:
        fields["traceback"] = redacted_traceback(exc, keep_message=lambda e: False)
    return fields


def redacted_traceback(exc: BaseException, keep_message: Callable[[BaseException], bool]) -> str:
    """``traceback.format_exception`` of ``exc`` and the exceptions it was raised from, with
    the message of each exception ``keep_message`` refuses replaced: frames (file, line and
    source line) say where it failed; messages may quote the values it failed on."""
    chain: list[tuple[BaseException, str]] = []  # (exception, how it leads to the next)
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    parts: list[str] = []
    for failure, leads_on in reversed(chain):
        if failure.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(failure.__traceback__))
        message = str(failure) if keep_message(failure) else _MESSAGE_REDACTED
        parts.append(f"{type_name(failure)}: {message}\n" if message else f"{type_name(failure)}\n")
        parts.append(leads_on)
    return "".join(parts).rstrip("\n")


def type_name(exc: BaseException) -> str:
    """``ValueError``, ``sqlalchemy.exc.IntegrityError``: module-qualified unless a builtin."""
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _timestamp(created: float) -> str:
    return f"{_second(int(created))}.{int(created % 1 * 1000):03d}Z"


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


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
