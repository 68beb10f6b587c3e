"""Tracing's parts without servers: settings, statement redaction, the file sink, the tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind

from keel_runtime import context, traces
from keel_runtime.settings import load
from keel_runtime.tracing import TracingSettings, spans
from keel_runtime.tracing.file_sink import JsonLinesExporter
from keel_runtime.tracing.local import local_traces
from keel_runtime.tracing.statements import describe


def test_tracing_is_off_unless_an_exporter_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("KEEL_TRACES_FILE", raising=False)
    assert not load(TracingSettings.from_env).enabled

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    monkeypatch.setenv("KEEL_TRACES_FILE", "/tmp/keel/identity.jsonl")
    settings = load(TracingSettings.from_env)
    assert settings.otlp_endpoint == "http://collector:4317"
    assert settings.file == Path("/tmp/keel/identity.jsonl")

    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not load(TracingSettings.from_env).enabled


@pytest.mark.parametrize(
    ("flags", "statements_traced"), [("01", True), ("03", True), ("00", False), ("02", False)]
)
def test_statements_get_spans_only_in_a_sampled_trace(
    tmp_path: Path, flags: str, statements_traced: bool
) -> None:
    """A trace not sampled records nothing below its root: no statement span is built."""
    traceparent = f"00-{'a1' * 16}-{'b2' * 8}-{flags}"
    with local_traces(tmp_path), context.bound(request_id="r", traceparent=traceparent):
        assert spans.in_trace() is statements_traced


@pytest.mark.parametrize(
    ("statement", "name", "text"),
    [
        ("SET LOCAL keel.org_id TO 'org-1'", "SET", "SET LOCAL keel.org_id TO '?'"),
        (
            "SELECT accounts.id FROM accounts WHERE accounts.org_id = %(org_id)s",
            "SELECT accounts",
            "SELECT accounts.id FROM accounts WHERE accounts.org_id = %(org_id)s",
        ),
        (
            "INSERT INTO outbox (id, note) VALUES (%s, 'it''s a secret')",
            "INSERT outbox",
            "INSERT INTO outbox (id, note) VALUES (%s, '?')",
        ),
        ("UPDATE balances SET x = E'a\\'b' WHERE id = %s", "UPDATE balances", None),
        ("/* hint */ delete from inbox where true", "DELETE inbox", None),
    ],
)
def test_a_statement_span_names_its_operation_and_blanks_literals(
    statement: str, name: str, text: str | None
) -> None:
    got_name, attributes = describe(statement)
    assert got_name == name
    if text is not None:
        assert attributes["db.query.text"] == text
    assert "secret" not in attributes["db.query.text"]
    assert "'a" not in attributes["db.query.text"]


def _span(name: str, span_id: int, parent: int | None, start: int, end: int) -> ReadableSpan:
    trace_id = 0x4BF92F3577B34DA6A3CE929D0E0E4736
    return ReadableSpan(
        name=name,
        context=SpanContext(trace_id, span_id, is_remote=False),
        parent=SpanContext(trace_id, parent, is_remote=False) if parent else None,
        resource=Resource.create({"service.name": "ledger"}),
        attributes={"keel.request_id": "req-1"},
        kind=SpanKind.SERVER,
        start_time=start,
        end_time=end,
    )


def test_the_file_sink_rotates_at_its_bound(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    sink = JsonLinesExporter(path, max_bytes=2048)
    for n in range(40):
        sink.export([_span(f"span-{n}", n + 1, None, 1_000, 2_000)])
    sink.shutdown()
    rotated = path.with_name("ledger.jsonl.1")
    assert path.stat().st_size <= 2048 and rotated.stat().st_size <= 2048
    kept = traces.read_spans(tmp_path)
    names = [span["name"] for span in kept]
    assert "span-39" in names and "span-0" not in names  # the newest kept, the oldest gone
    assert len(kept) == len(path.read_bytes().splitlines()) + len(rotated.read_bytes().splitlines())


def test_a_line_being_written_is_skipped(tmp_path: Path) -> None:
    sink = JsonLinesExporter(tmp_path / "ledger.jsonl")
    sink.export([_span("done", 1, None, 1_000, 2_000)])
    sink.shutdown()
    with (tmp_path / "ledger.jsonl").open("a") as out:
        out.write('{"trace_id": "4bf9')  # a writer caught halfway
    assert [span["name"] for span in traces.read_spans(tmp_path)] == ["done"]


def _record(
    name: str, span_id: str, parent: str | None, start: int, **extra: Any
) -> dict[str, Any]:
    return {
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": span_id,
        "parent_id": parent,
        "name": name,
        "kind": extra.pop("kind", "SERVER"),
        "service": extra.pop("service", "billing"),
        "start_ns": start,
        "end_ns": start + 2_000_000,
        "status": extra.pop("status", "UNSET"),
        "attributes": extra,
    }


def test_a_trace_prints_as_a_tree_and_is_found_by_request_id(tmp_path: Path) -> None:
    spans = [
        _record("pay", "a" * 16, "f" * 16, 0, **{"keel.request_id": "req-9"}),  # parent unknown
        _record(
            "SELECT invoices",
            "b" * 16,
            "a" * 16,
            1_000_000,
            kind="CLIENT",
            **{"db.system.name": "postgresql"},
        ),
        _record("publish billing.invoice.paid", "c" * 16, "a" * 16, 3_000_000, kind="PRODUCER"),
        _record(
            "process billing.invoice.paid",
            "d" * 16,
            "c" * 16,
            5_000_000,
            kind="CONSUMER",
            service="ledger",
            status="ERROR",
            **{"keel.consumer.outcome": "failed"},
        ),
    ]
    (tmp_path / "billing.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans))
    found = traces.traces_of(traces.read_spans(tmp_path), "req-9")
    assert list(found) == ["4bf92f3577b34da6a3ce929d0e0e4736"]
    assert traces.traces_of(spans, "4bf92f3577b34da6a3ce929d0e0e4736") == found
    assert traces.traces_of(spans, "req-unknown") == {}
    lines = traces.render(found["4bf92f3577b34da6a3ce929d0e0e4736"]).splitlines()
    assert "4 spans" in lines[0] and "7.0 ms" in lines[0] and "request: req-9" in lines[0]
    assert "services: billing, ledger" in lines[0]
    body = [line.split(None, 5)[5] for line in lines[2:]]
    assert body == [
        "server   pay",
        "db         SELECT invoices",
        "publish    publish billing.invoice.paid",
        "consume      process billing.invoice.paid  [failed, ERROR]",
    ]
