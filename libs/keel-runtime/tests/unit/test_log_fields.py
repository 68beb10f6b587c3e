"""log_fields: the same JSON line whether written directly or through a LogRecord."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from keel_runtime import context
from keel_runtime.logging import configure_logging, log_fields

FIELDS = {"method": "/keel.items.v1.ItemService/GetItem", "code": "OK", "api_key": "k", "n": 1.5}


@contextmanager
def only_our_handler() -> Iterator[None]:
    """Root with nothing but the handler configure_logging installs (pytest adds its own)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    root.handlers[:] = []
    try:
        configure_logging("items", "INFO")
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("expected the direct path, without a LogRecord")


def test_direct_line_equals_the_record_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = logging.getLogger("keel.test.fields")
    with only_our_handler(), context.bound(request_id="r-7"):
        with monkeypatch.context() as patch:
            patch.setattr(logger, "handle", _refuse)
            log_fields(logger, logging.INFO, "rpc", dict(FIELDS))
        logger.info("rpc", extra=dict(FIELDS))
        log_fields(logger, logging.DEBUG, "rpc", dict(FIELDS))  # below the level: nothing
    lines = capsys.readouterr().err.splitlines()
    direct, via_record = (json.loads(line) for line in lines)
    assert len(lines) == 2
    assert direct.pop("ts") and via_record.pop("ts")
    assert direct == via_record
    assert list(direct) == list(via_record)  # same field order too
    assert (direct["request_id"], direct["api_key"], direct["level"]) == (
        "r-7",
        "[redacted]",
        "INFO",
    )


def test_other_handlers_get_a_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="keel.test.fields")
    log_fields(logging.getLogger("keel.test.fields"), logging.INFO, "rpc", dict(FIELDS))
    [record] = [r for r in caplog.records if r.name == "keel.test.fields"]
    assert (record.getMessage(), record.__dict__["method"]) == ("rpc", FIELDS["method"])


def test_a_filter_on_the_logger_is_honoured(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("keel.test.filtered")
    dropped = logging.Filter("elsewhere")
    with only_our_handler():
        logger.addFilter(dropped)
        try:
            log_fields(logger, logging.INFO, "rpc", dict(FIELDS))
        finally:
            logger.removeFilter(dropped)
    assert capsys.readouterr().err == ""
