"""JSON log lines: one object per line, request context attached, secrets redacted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from keel_runtime import context
from keel_runtime.logging import JsonFormatter, configure_logging


def render(record: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter("ledger").format(record)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def make_record(msg: str = "hello", **extra: object) -> logging.LogRecord:
    record = logging.getLogger("keel.test").makeRecord(
        "keel.test", logging.INFO, __file__, 1, msg, (), None, extra=extra
    )
    return record


def test_line_has_standard_fields_and_extras() -> None:
    entry = render(make_record("moved %s", method="/keel.ledger.v1.LedgerService/Post"))
    assert entry["msg"] == "moved %s"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "keel.test"
    assert entry["service"] == "ledger"
    assert entry["method"] == "/keel.ledger.v1.LedgerService/Post"
    assert str(entry["ts"]).endswith("Z")
    assert "request_id" not in entry


def test_request_context_is_attached() -> None:
    with context.bound(request_id="r-42"):
        entry = render(make_record())
    assert entry["request_id"] == "r-42"
    assert isinstance(entry["trace_id"], str) and len(entry["trace_id"]) == 32


def test_lines_carry_the_trace_and_span_ids_of_the_span_they_are_written_in() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    formatter = JsonFormatter("ledger")
    with context.bound(request_id="r-7", traceparent=traceparent):
        # Both ways a line is made: a record, and the access log's direct path.
        lines = [
            render(make_record()),
            json.loads(formatter.format_fields(logging.INFO, "keel.access", "rpc", {})),
        ]
    for entry in lines:
        assert entry["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert entry["span_id"] == "00f067aa0ba902b7"
    outside = render(make_record())
    assert "trace_id" not in outside and "span_id" not in outside


def test_secret_extras_are_redacted() -> None:
    entry = render(make_record(authorization="Bearer abc", db_password="pw", api_key="k"))
    assert entry["authorization"] == entry["db_password"] == entry["api_key"] == "[redacted]"


def test_exception_is_one_escaped_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("keel.test").makeRecord(
            "keel.test", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info()
        )
    entry = render(record)
    assert "ValueError: boom" in str(entry["exc"])


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_configure_logging_writes_json_to_stderr(
    restore_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("items", "debug")
    configure_logging("items", "INFO")  # reconfiguring replaces, not duplicates
    logging.getLogger("keel.test").info("ready", extra={"port": 1})
    lines = capsys.readouterr().err.strip().splitlines()
    assert [json.loads(line)["msg"] for line in lines] == ["ready"]
    assert json.loads(lines[0])["port"] == 1
    with pytest.raises(ValueError, match="log level"):
        configure_logging("items", "LOUD")


class FakeDriverError(Exception):
    """Stands for a driver error: its message quotes the row's values."""


FakeDriverError.__module__ = "psycopg.errors"


def test_database_error_messages_are_redacted_in_tracebacks() -> None:
    detail = "Key (email)=(" + "alice" + "@example.com) already exists"
    try:
        try:
            raise ValueError("context kept")
        except ValueError as exc:
            raise FakeDriverError(detail) from exc
    except FakeDriverError:
        record = logging.getLogger("keel.test").makeRecord(
            "keel.test", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info()
        )
    exc = str(render(record)["exc"])
    assert "alice@example.com" not in exc
    assert "psycopg.errors.FakeDriverError: [message redacted]" in exc
    assert "ValueError: context kept" in exc  # other messages stay useful
    assert "direct cause" in exc


def test_exception_fields_keep_no_message_at_all() -> None:
    from keel_runtime.logging import exception_fields

    secret = "sk_live_" + "123"  # built, so the traceback's source line does not hold it
    try:
        raise KeyError(secret)
    except KeyError as exc:
        fields = exception_fields(exc)
    assert fields["error_type"] == "KeyError"
    assert "sk_live_123" not in str(fields)
    assert "test_logging.py" in fields["traceback"]
