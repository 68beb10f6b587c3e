"""The receiver of Envoy's spans: OTLP in, the lines the services' own file sink writes out."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from keel_devstack.ports import free_port
from keel_devstack.process import StartError, group_alive
from keel_devstack.trace_sink import Receiver, span_records, start_trace_sink
from keel_runtime import traces
from keel_runtime.tracing.file_sink import span_record

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def _span(
    name: str,
    span_id: int,
    parent: int | None,
    *,
    service: str = "gateway",
    kind: SpanKind = SpanKind.SERVER,
    status: Status | None = None,
    attributes: dict[str, Any] | None = None,
) -> ReadableSpan:
    return ReadableSpan(
        name=name,
        context=SpanContext(TRACE_ID, span_id, is_remote=False),
        parent=SpanContext(TRACE_ID, parent, is_remote=True) if parent else None,
        resource=Resource.create({"service.name": service}),
        attributes=attributes or {},
        kind=kind,
        status=status or Status(StatusCode.UNSET),
        start_time=1_700_000_000_000_000_000 + span_id,
        end_time=1_700_000_000_002_000_000 + span_id,
    )


SPANS = [
    _span(
        "POST /keel.billing.v1.InvoiceService/PayInvoice",
        1,
        None,
        attributes={
            "keel.request_id": "req-1",
            "http.status_code": "400",
            "retried": False,
            "attempts": 2,
            "ratio": 0.5,
            "hosts": ("a", "b"),
        },
    ),
    _span(
        "keel.billing.v1.InvoiceService/PayInvoice",
        2,
        1,
        service="billing",
        status=Status(StatusCode.ERROR, "FAILED_PRECONDITION"),
        attributes={"rpc.grpc.status_code": 9, "keel.request_id": "req-1"},
    ),
    _span("publish billing.invoice.paid", 3, 2, service="billing", kind=SpanKind.PRODUCER),
    _span("process billing.invoice.paid", 4, 3, service="billing", kind=SpanKind.CONSUMER),
    _span("SELECT invoices", 5, 2, service="billing", kind=SpanKind.CLIENT),
    _span("ok", 6, 2, service="billing", kind=SpanKind.INTERNAL, status=Status(StatusCode.OK)),
]


def _as_written(span: ReadableSpan) -> dict[str, Any]:
    """What the services' file sink writes for a span, read back as JSON."""
    loaded: dict[str, Any] = json.loads(json.dumps(span_record(span), default=str))
    return loaded


def test_an_export_becomes_the_lines_the_services_write() -> None:
    records, refused = span_records(encode_spans(SPANS))
    assert refused == 0
    assert [json.loads(json.dumps(r)) for r in records] == [_as_written(s) for s in SPANS]


def test_spans_without_valid_ids_are_refused_and_counted() -> None:
    request = encode_spans(SPANS[:1])
    spans = request.resource_spans[0].scope_spans[0].spans
    spans.add(trace_id=bytes(16), span_id=bytes.fromhex("00f067aa0ba902b7"), name="zero trace")
    spans.add(trace_id=bytes.fromhex(f"{TRACE_ID:032x}"), span_id=b"\x01", name="short id")
    records, refused = span_records(request)
    assert [r["name"] for r in records] == [SPANS[0].name] and refused == 2


class _Context:
    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise AssertionError(f"aborted {code}: {details}")


def test_the_receiver_appends_to_the_file_the_trace_command_reads(tmp_path: Path) -> None:
    receiver = Receiver(tmp_path / "envoy.jsonl")
    request = encode_spans(SPANS[:2])
    bad = request.resource_spans[0].scope_spans[0].spans.add(name="no ids")
    assert not bad.trace_id
    answer = receiver.Export(request, _Context())  # type: ignore[arg-type]
    receiver.sink.shutdown()
    assert answer.partial_success.rejected_spans == 1
    found = traces.traces_of(traces.read_spans(tmp_path), "req-1")
    assert list(found) == [f"{TRACE_ID:032x}"]
    assert sorted(found[f"{TRACE_ID:032x}"], key=lambda s: s["span_id"]) == [
        _as_written(s) for s in SPANS[:2]
    ]


def test_an_otlp_exporter_reaches_the_file_through_the_process(tmp_path: Path) -> None:
    """The receiver as the stack runs it, fed by the SDK's OTLP/gRPC exporter (the protocol
    Envoy speaks)."""
    sink = start_trace_sink(
        tmp_path / "traces" / "envoy.jsonl", port=free_port(), log_path=tmp_path / "sink.log"
    )
    try:
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{sink.port}", insecure=True)
        try:
            assert exporter.export(SPANS) is SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()
        # The export returned once the receiver answered, after its write.
        written = traces.read_spans(tmp_path / "traces")
        assert sorted(written, key=lambda s: s["span_id"]) == [_as_written(s) for s in SPANS]
    finally:
        pid = sink.process.pid
        sink.stop()
    assert pid is not None and not group_alive(pid)


def test_a_port_taken_by_another_program_fails_the_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartError, match="trace-sink exited"):
            start_trace_sink(tmp_path / "envoy.jsonl", port=port, log_path=tmp_path / "sink.log")


def test_a_span_kind_or_status_unknown_to_the_sdk_reads_as_internal_and_unset() -> None:
    request = trace_service_pb2.ExportTraceServiceRequest()
    span = (
        request.resource_spans.add()
        .scope_spans.add()
        .spans.add(
            trace_id=bytes.fromhex(f"{TRACE_ID:032x}"),
            span_id=bytes.fromhex("00f067aa0ba902b7"),
            name="unspecified",
            kind=trace_pb2.Span.SPAN_KIND_UNSPECIFIED,
        )
    )
    assert span.status.code == trace_pb2.Status.STATUS_CODE_UNSET
    ((record,), _) = span_records(request)
    assert (record["kind"], record["status"], record["service"]) == ("INTERNAL", "UNSET", "")
