"""Spans of served and outgoing RPCs, written to the local sink and read back as traces."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from keel_runtime import clients, traces, tracing
from keel_runtime.errors import PermissionDenied
from keel_runtime.logging import JsonFormatter
from keel_runtime.settings import load
from keel_runtime.tracing.local import local_traces

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = INCOMING[3:35]

Spans = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def spans(tmp_path: Path) -> Iterator[Spans]:
    """Tracing on for this test, into a file of tmp_path; the fixture reads it back."""
    with local_traces(tmp_path, "probe") as read:
        yield read


def _named(found: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [span for span in found if span["name"] == name]


async def test_without_an_exporter_nothing_is_recorded(start_probe: Any, kit: Any) -> None:
    assert not tracing.recording()
    probe = await start_probe()
    response = await probe.echo()(
        kit.valid_request(), metadata=(("traceparent", INCOMING), *kit.AUTH), timeout=5
    )
    assert response.traceparent[3:35] == TRACE_ID  # the context still carries the trace


async def test_a_call_through_two_servers_is_one_trace(
    start_probe: Any, kit: Any, spans: Spans
) -> None:
    downstream = await start_probe()
    seen_downstream: list[str] = []

    async def relay(request: Any, ctx: Any) -> Any:
        # Inside the first server: call the second one as services do (clients.channel).
        async with clients.insecure_channel(downstream.target) as channel:
            echo = channel.unary_unary(
                f"/{kit.SERVICE}/Echo",
                request_serializer=kit.EchoRequest.SerializeToString,
                response_deserializer=kit.EchoResponse.FromString,
            )
            reply = await echo(request, timeout=5)
        seen_downstream.append(reply.traceparent)
        return kit.context_response(request.note)

    upstream = await start_probe(servicer=kit.ProbeServicer(echo=relay))
    response = await upstream.echo()(
        kit.valid_request(),
        metadata=(("traceparent", INCOMING), ("x-request-id", "trace-1"), *kit.AUTH),
        timeout=5,
    )

    method = f"{kit.SERVICE}/Echo"
    found = [span for span in spans() if span["trace_id"] == TRACE_ID]
    servers = sorted(
        (s for s in _named(found, method) if s["kind"] == "SERVER"), key=lambda s: s["start_ns"]
    )
    (client,) = [s for s in _named(found, method) if s["kind"] == "CLIENT"]
    assert len(servers) == 2, found
    first, second = servers
    # caller -> first server -> client span -> second server, one trace.
    assert first["parent_id"] == INCOMING[36:52]
    assert client["parent_id"] == first["span_id"]
    assert second["parent_id"] == client["span_id"]
    # Each servicer ran under its own server span, as logs and outgoing calls see it.
    assert response.traceparent == f"00-{TRACE_ID}-{first['span_id']}-01"
    assert seen_downstream == [f"00-{TRACE_ID}-{second['span_id']}-01"]
    for span in (first, client, second):
        assert span["attributes"]["keel.request_id"] == "trace-1"
        assert span["attributes"]["rpc.grpc.status_code"] == 0
        assert span["status"] == "UNSET"
        assert span["service"] == "probe"
    # The command shows it as a tree: the second server under the client span under the first.
    lines = traces.render(found).splitlines()[2:]
    assert [line.split()[5:] for line in lines] == [
        ["server", method],
        ["client", method],
        ["server", method],
    ]
    assert [
        line.index(method) - line.index(kind)
        for line, kind in zip(lines, ("server", "client", "server"), strict=True)
    ] == [9, 11, 13]


async def test_the_final_status_code_is_on_the_span(
    start_probe: Any, kit: Any, spans: Spans
) -> None:
    async def refused(request: Any, ctx: Any) -> Any:
        raise PermissionDenied("not yours", reason="NOT_YOURS")

    async def failing(request: Any, ctx: Any) -> Any:
        raise RuntimeError("boom")

    for behaviour, code in (
        (refused, grpc.StatusCode.PERMISSION_DENIED),
        (failing, grpc.StatusCode.INTERNAL),
    ):
        probe = await start_probe(servicer=kit.ProbeServicer(echo=behaviour))
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await probe.echo()(
                kit.valid_request(), metadata=(("x-request-id", code.name), *kit.AUTH), timeout=5
            )
        assert error.value.code() == code
    # An aborted call's status reaches the client before its span ends: wait for both.
    async with asyncio.timeout(10):
        while True:
            by_request = {s["attributes"]["keel.request_id"]: s for s in spans()}
            if {"PERMISSION_DENIED", "INTERNAL"} <= by_request.keys():
                break
            await asyncio.sleep(0.01)
    denied, internal = by_request["PERMISSION_DENIED"], by_request["INTERNAL"]
    assert denied["attributes"]["rpc.grpc.status_code"] == 7
    assert denied["status"] == "UNSET"  # the caller's mistake, not the server's
    assert internal["status"] == "ERROR"
    assert "boom" not in json.dumps(internal)  # no exception message reaches a span


async def test_health_and_reflection_make_no_spans(
    start_probe: Any, kit: Any, spans: Spans
) -> None:
    probe = await start_probe()
    async with clients.insecure_channel(probe.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
    await probe.echo()(kit.valid_request(), metadata=kit.AUTH, timeout=5)
    assert [s["name"] for s in spans()] == [f"{kit.SERVICE}/Echo"]


class _Lines(logging.Handler):
    """Formats records as a service's handler does, in the context they are logged in."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("probe"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_log_lines_inside_a_call_carry_its_trace_and_span_ids(
    start_probe: Any, kit: Any, spans: Spans
) -> None:
    async def logging_echo(request: Any, ctx: Any) -> Any:
        logging.getLogger("probe.servicer").warning("inside the call")
        return kit.context_response(request.note)

    probe = await start_probe(servicer=kit.ProbeServicer(echo=logging_echo))
    lines = _Lines()
    logging.getLogger("probe.servicer").addHandler(lines)
    try:
        await probe.echo()(
            kit.valid_request(), metadata=(("traceparent", INCOMING), *kit.AUTH), timeout=5
        )
    finally:
        logging.getLogger("probe.servicer").removeHandler(lines)
    (span,) = spans()
    (line,) = lines.lines
    assert line["msg"] == "inside the call"
    assert (line["trace_id"], line["span_id"]) == (span["trace_id"], span["span_id"])


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    """An OTLP/gRPC trace receiver that keeps what it is sent."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


async def test_spans_go_by_otlp_when_an_endpoint_is_configured(
    start_probe: Any, kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = _Collector()
    # A thread-pool server: the exporter calls it from its own thread while this loop waits.
    receiver = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, receiver)
    port = receiver.add_insecure_port("127.0.0.1:0")
    receiver.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    try:
        assert tracing.configure("probe", load(tracing.TracingSettings.from_env))
        probe = await start_probe()
        await probe.echo()(
            kit.valid_request(), metadata=(("traceparent", INCOMING), *kit.AUTH), timeout=5
        )
        tracing.force_flush()
    finally:
        tracing.shutdown()
        receiver.stop(None)
    (resource_spans,) = [rs for r in collector.requests for rs in r.resource_spans]
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "probe"
    (span,) = [s for scope in resource_spans.scope_spans for s in scope.spans]
    assert span.name == f"{kit.SERVICE}/Echo"
    assert span.trace_id.hex() == TRACE_ID and span.parent_span_id.hex() == INCOMING[36:52]
