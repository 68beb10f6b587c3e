"""The runtime's spans: RPCs (server and client), outbox publishes, event handling, statements.

Every span is parented from the request context (``keel_runtime.context``): the W3C
traceparent there is the one logs print and outgoing calls and events carry, so a span
started here and the ids elsewhere always agree. While tracing is off (no exporter
configured, see ``keel_runtime.tracing.provider``) nothing is recorded and each function
costs a global lookup; the request context still gets its traceparent as before.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, MutableMapping
from typing import Final, TypeVar

import grpc
from opentelemetry import trace as otel
from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from keel_runtime import context as ctx

T = TypeVar("T")

_tracer: otel.Tracer | None = None
"""Set while tracing is on (``provider.configure``); None records nothing."""

_TRACEPARENT: Final = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
# Codes that say the server failed, not the caller (OpenTelemetry's gRPC conventions).
_SERVER_FAULTS: Final = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_UNTRACED_CALLS: Final = (b"/grpc.health.v1.", b"/grpc.reflection.")
REQUEST_ID: Final = "keel.request_id"
"""The attribute holding the request id: how ``python -m keel_runtime.traces`` finds a trace."""


def install(tracer: otel.Tracer | None) -> None:
    """Record spans with ``tracer`` from now on (None: stop recording)."""
    global _tracer
    _tracer = tracer


def recording() -> bool:
    return _tracer is not None


def traceparent_of(span: Span) -> str:
    """The W3C traceparent naming ``span`` as the parent of what comes next."""
    sc = span.get_span_context()
    return f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags):02x}"


def _parent(traceparent: str | None, *, remote: bool) -> Context | None:
    """A context whose current span is the one ``traceparent`` names (None: a new trace)."""
    if not traceparent:
        return None
    match = _TRACEPARENT.fullmatch(traceparent.strip().lower())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    trace, span = int(trace_id, 16), int(span_id, 16)
    if not trace or not span:
        return None
    parent = SpanContext(trace, span, is_remote=remote, trace_flags=TraceFlags(int(flags, 16)))
    return otel.set_span_in_context(NonRecordingSpan(parent))


_last_local: tuple[str | None, Context | None] = (None, None)


def _local_parent() -> Context | None:
    """The current request's span as a parent; a request's statements and calls share it,
    so the last one is kept rather than parsed again."""
    global _last_local
    traceparent = ctx.current_traceparent()
    seen, parent = _last_local
    if traceparent != seen:
        parent = _parent(traceparent, remote=False)
        _last_local = (traceparent, parent)
    return parent


# -- RPCs ----------------------------------------------------------------------------------


_rpc_attributes: dict[str, dict[str, str]] = {}


def _rpc(method: str) -> dict[str, str]:
    """``rpc.*`` attributes of a ``/package.Service/Method`` name, computed once per method."""
    found = _rpc_attributes.get(method)
    if found is None:
        service, _, name = method.lstrip("/").partition("/")
        found = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
        if len(_rpc_attributes) < 4096:  # methods are a fixed set; bound it all the same
            _rpc_attributes[method] = found
    return found


def start_server(
    method: str, incoming: str | None, request_id: str, infrastructure: bool = False
) -> tuple[Span | None, str]:
    """The span of one served RPC and the traceparent the call then runs under.

    ``incoming`` is the caller's traceparent header. Tracing off, and for health and
    reflection (probes every few seconds would drown the traces): no span, and the call
    runs under a fresh span id of the caller's trace (``context.child_traceparent``).
    """
    tracer = _tracer
    if tracer is None or infrastructure:
        return None, ctx.child_traceparent(incoming)
    span = tracer.start_span(
        method.lstrip("/"),
        context=_parent(incoming, remote=True),
        kind=SpanKind.SERVER,
        attributes={**_rpc(method), REQUEST_ID: request_id},
    )
    return span, traceparent_of(span)


def end_rpc(span: Span | None, code: grpc.StatusCode, *, server: bool = True) -> None:
    """End an RPC's span with its final status code (None: nothing to end)."""
    if span is None:
        return
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code is not grpc.StatusCode.OK and (not server or code in _SERVER_FAULTS):
        span.set_status(Status(StatusCode.ERROR, code.name))
    span.end()


_call_names: dict[bytes, str] = {}


def start_client(method: bytes | str) -> Span | None:
    """The span of an outgoing call, under the current request's span; None while tracing
    is off, and for health and reflection calls (probes would drown the traces)."""
    tracer = _tracer
    if tracer is None:
        return None
    raw = method if isinstance(method, bytes) else method.encode()
    if raw.startswith(_UNTRACED_CALLS):
        return None
    name = _call_names.get(raw)
    if name is None:
        name = raw.decode()
        if len(_call_names) < 4096:
            _call_names[raw] = name
    attributes: dict[str, str] = _rpc(name)
    if request_id := ctx.current_request_id():
        attributes = {**attributes, REQUEST_ID: request_id}
    return tracer.start_span(
        name.lstrip("/"), context=_local_parent(), kind=SpanKind.CLIENT, attributes=attributes
    )


# -- events --------------------------------------------------------------------------------


def start_publish(
    subject: str, headers: MutableMapping[str, str], event_id: str, request_id: str | None
) -> Span | None:
    """The span of one outbox event's publish, under the request that wrote the event.

    The event's stored ``traceparent`` header names that request; it is replaced by this
    span's, so the consumers' spans continue the same trace under the publish.
    """
    tracer = _tracer
    if tracer is None:
        return None
    span = tracer.start_span(
        f"publish {subject}",
        context=_parent(headers.get(ctx.TRACEPARENT_HEADER), remote=True),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "send",
            "messaging.destination.name": subject,
            "messaging.message.id": event_id,
        },
    )
    if request_id:
        span.set_attribute(REQUEST_ID, request_id)
    headers[ctx.TRACEPARENT_HEADER] = traceparent_of(span)
    return span


async def published(span: Span, sending: Awaitable[T]) -> T:
    """Await ``sending`` (the publish and its PubAck), then end ``span`` with its outcome."""
    try:
        ack = await sending
    except BaseException as exc:
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        span.end()
        raise
    span.end()
    return ack


def start_consume(
    consumer: str, subject: str, parent: str | None, event_id: str, request_id: str
) -> tuple[Span | None, str]:
    """The span of one delivery's handling and the traceparent the handler runs under.

    ``parent`` is the message's ``traceparent`` (the publish span's, or the request that
    wrote the event): producer and consumer become one trace.
    """
    tracer = _tracer
    if tracer is None:
        return None, ctx.child_traceparent(parent)
    span = tracer.start_span(
        f"process {subject}",
        context=_parent(parent, remote=True),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.destination.name": subject,
            "messaging.consumer.group.name": consumer,
            "messaging.message.id": event_id,
            REQUEST_ID: request_id,
        },
    )
    return span, traceparent_of(span)


def end_consume(span: Span | None, outcome: str, error: BaseException | None = None) -> None:
    """End a delivery's span: ``outcome`` is handled, duplicate, failed, dead_lettered..."""
    if span is None:
        return
    span.set_attribute("keel.consumer.outcome", outcome)
    if error is not None or outcome in ("failed", "dead_lettered"):
        detail = type(error).__name__ if error is not None else outcome
        span.set_status(Status(StatusCode.ERROR, detail))
    span.end()


# -- statements ----------------------------------------------------------------------------


def in_trace() -> bool:
    """Tracing is on and a sampled request or event is being handled: statements get spans.

    Outside of one (the relay's and the consumers' polling, periodic jobs) they do not: a
    trace per poll would bury the traces of requests. Nor in a trace not sampled (most of
    them in production, which samples a share): nothing under it would be recorded, and
    building spans that record nothing costs each statement for no span.
    """
    if _tracer is None:
        return False
    traceparent = ctx.current_traceparent()
    return traceparent is not None and _sampled(traceparent)


def _sampled(traceparent: str) -> bool:
    """The sampled bit of a version 00 traceparent's flags (anything else: let the sampler
    decide)."""
    if len(traceparent) != _TRACEPARENT_LENGTH:
        return True
    return traceparent[-1] in "13579bdfBDF"


_TRACEPARENT_LENGTH = 55
"""``00-<32 hex>-<16 hex>-<2 hex>``."""


def start_statement(name: str, attributes: dict[str, str]) -> Span | None:
    """The span of one database statement under the current request's span."""
    tracer = _tracer
    if tracer is None:
        return None
    return tracer.start_span(
        name, context=_local_parent(), kind=SpanKind.CLIENT, attributes=attributes
    )


def end_failed(span: Span, error: BaseException) -> None:
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()
