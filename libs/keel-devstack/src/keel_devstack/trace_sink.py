"""The local receiver of Envoy's spans: OTLP/gRPC in, the trace files' JSON lines out.

Envoy exports spans only by OTLP, to a cluster of its config. With no collector on a
developer's machine, `make run` (and the test mesh) runs this process and points Envoy's
tracer at it: each span ``TraceService/Export`` receives becomes one line of its file
(``var/traces/envoy.jsonl``), written as the services write theirs
(``keel_runtime.tracing.file_sink``), so ``python -m keel_runtime.traces show`` prints the
gateway's span as the root of the services' spans.

    python -m keel_devstack.trace_sink --bind 127.0.0.1:14317 --file var/traces/envoy.jsonl
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.trace.export import SpanExportResult

from keel_devstack.process import ManagedProcess
from keel_runtime.tracing.file_sink import DEFAULT_MAX_BYTES, JsonLinesExporter

log = logging.getLogger("keel.trace_sink")

# The SDK's names (opentelemetry.trace.SpanKind, StatusCode), which the file sink writes.
_KINDS: Final = {
    trace_pb2.Span.SPAN_KIND_UNSPECIFIED: "INTERNAL",  # OTLP: unspecified means internal
    trace_pb2.Span.SPAN_KIND_INTERNAL: "INTERNAL",
    trace_pb2.Span.SPAN_KIND_SERVER: "SERVER",
    trace_pb2.Span.SPAN_KIND_CLIENT: "CLIENT",
    trace_pb2.Span.SPAN_KIND_PRODUCER: "PRODUCER",
    trace_pb2.Span.SPAN_KIND_CONSUMER: "CONSUMER",
}
_STATUSES: Final = {
    trace_pb2.Status.STATUS_CODE_UNSET: "UNSET",
    trace_pb2.Status.STATUS_CODE_OK: "OK",
    trace_pb2.Status.STATUS_CODE_ERROR: "ERROR",
}


def attribute_value(value: common_pb2.AnyValue) -> Any:
    """An OTLP attribute value as the SDK holds it (arrays as lists, as JSON writes them)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [attribute_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind) if kind is not None else None


def attributes(pairs: Any) -> dict[str, Any]:
    """OTLP key-value pairs (a repeated ``KeyValue``) as a dict."""
    return {pair.key: attribute_value(pair.value) for pair in pairs}


def span_record(span: trace_pb2.Span, service: str) -> dict[str, Any] | None:
    """One OTLP span as a line of the trace files (``file_sink.span_record``'s fields);
    None for a span without valid ids, which no trace could hold."""
    if len(span.trace_id) != 16 or len(span.span_id) != 8:
        return None
    if not any(span.trace_id) or not any(span.span_id):
        return None
    parent = span.parent_span_id
    return {
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_id": parent.hex() if len(parent) == 8 and any(parent) else None,
        "name": span.name,
        "kind": _KINDS.get(span.kind, "INTERNAL"),
        "service": service,
        "start_ns": span.start_time_unix_nano,
        "end_ns": span.end_time_unix_nano,
        "status": _STATUSES.get(span.status.code, "UNSET"),
        "attributes": attributes(span.attributes),
    }


def span_records(
    request: trace_service_pb2.ExportTraceServiceRequest,
) -> tuple[list[dict[str, Any]], int]:
    """The records of every span of an export, and how many spans were refused."""
    records: list[dict[str, Any]] = []
    refused = 0
    for resource_spans in request.resource_spans:
        service = attributes(resource_spans.resource.attributes).get("service.name", "")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                record = span_record(span, str(service))
                if record is None:
                    refused += 1
                else:
                    records.append(record)
    return records, refused


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """``TraceService/Export``: append the spans to the file."""

    def __init__(self, file: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.sink = JsonLinesExporter(file, max_bytes)

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        records, refused = span_records(request)
        if records and self.sink.write(records) is not SpanExportResult.SUCCESS:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"cannot write {self.sink.path}")
        response = trace_service_pb2.ExportTraceServiceResponse()
        if refused:
            response.partial_success.rejected_spans = refused
            response.partial_success.error_message = "spans without a valid trace or span id"
        return response


def serve(bind: str, file: Path, max_bytes: int) -> int:
    """Receive spans on ``bind`` until SIGTERM or SIGINT."""
    # One port, one server: gRPC's default SO_REUSEPORT would let two processes share it.
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2), options=[("grpc.so_reuseport", 0)]
    )
    receiver = Receiver(file, max_bytes)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        receiver, server
    )
    try:
        server.add_insecure_port(bind)
    except RuntimeError as exc:
        log.error("cannot listen on %s: %s", bind, exc)
        return 1
    server.start()
    log.info("receiving OTLP spans on %s into %s", bind, file)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    stopping.wait()
    server.stop(grace=2.0).wait()
    receiver.sink.shutdown()
    return 0


# -- started by the stack ----------------------------------------------------------------


@dataclass
class TraceSink:
    """A running receiver: Envoy's tracer exports to ``127.0.0.1:port``."""

    port: int
    file: Path
    process: ManagedProcess

    def stop(self) -> None:
        self.process.stop()


def start_trace_sink(file: Path, *, port: int, log_path: Path, timeout: float = 30.0) -> TraceSink:
    """Start the receiver writing ``file`` on 127.0.0.1:``port``; ready once it owns the port
    and answers an empty export."""
    target = f"127.0.0.1:{port}"
    argv = [sys.executable, "-m", "keel_devstack.trace_sink", "--bind", target, "--file", str(file)]
    process = ManagedProcess("trace-sink", argv, log_path=log_path)
    process.start()
    with grpc.insecure_channel(target) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)  # type: ignore[no-untyped-call]

        def answers() -> bool:
            try:
                stub.Export(trace_service_pb2.ExportTraceServiceRequest(), timeout=1.0)
            except grpc.RpcError:
                return False
            return True

        process.wait_ready(answers, timeout=timeout, interval=0.1, ports=[port])
    return TraceSink(port=port, file=file, process=process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keel_devstack.trace_sink", description=__doc__)
    parser.add_argument("--bind", required=True, metavar="HOST:PORT")
    parser.add_argument("--file", required=True, type=Path, help="the JSON-lines file to append")
    parser.add_argument(
        "--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="rotate to <file>.1 past this"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return serve(args.bind, args.file, args.max_bytes)


if __name__ == "__main__":
    sys.exit(main())
