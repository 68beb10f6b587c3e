"""Outgoing gRPC channels that forward the request context (request id, trace, principal).

Inside a call made for a user, the user's access token travels on, and the next service
verifies it again; the calling service itself is proven by its certificate. A call made
``as_service(org)`` acts as the calling service for that organization instead, with no
user's token, even inside a user's call.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

import grpc

from keel_runtime.context import (
    ACTING_ORG_HEADER,
    AUTHORIZATION_HEADER,
    TRACEPARENT_HEADER,
    outgoing_metadata,
)
from keel_runtime.tls import TlsSettings, channel_credentials
from keel_runtime.tracing import spans as tracing


def as_service(org_id: str) -> tuple[tuple[str, str], ...]:
    """Call metadata: act as this service (its certificate) for ``org_id``, not as the user."""
    return ((ACTING_ORG_HEADER, org_id),)


def _with_context(details: Any, traceparent: str | None = None) -> Any:
    extra = outgoing_metadata()
    if traceparent is not None:
        # The call's own span is the callee's parent.
        extra = [(k, v) for k, v in extra if k != TRACEPARENT_HEADER]
        extra.append((TRACEPARENT_HEADER, traceparent))
    if not extra:
        return details
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    as_itself = ACTING_ORG_HEADER in metadata
    for key, value in extra:
        # A value the caller set explicitly wins over the ambient context, and a call made
        # as the service carries no user's token.
        if key not in metadata and not (as_itself and key == AUTHORIZATION_HEADER):
            metadata.add(key, value)
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


async def _call(continuation: Any, details: Any, request: Any, *, unary: bool = False) -> Any:
    """Continue the call with the request context; while tracing, inside a client span that
    ends with the call's final status."""
    span = tracing.start_client(details.method)
    if span is None:
        return await continuation(_with_context(details), request)
    try:
        call = await continuation(_with_context(details, tracing.traceparent_of(span)), request)
    except asyncio.CancelledError:
        tracing.end_rpc(span, grpc.StatusCode.CANCELLED, server=False)
        raise
    except BaseException:
        tracing.end_rpc(span, grpc.StatusCode.UNKNOWN, server=False)
        raise
    if not unary:
        # The caller reads or writes the stream itself: the span ends when the call does.
        call.add_done_callback(functools.partial(_ended, span))
        return call
    # A unary call: its reply is what the caller awaits anyway, so the span ends before the
    # caller resumes.
    try:
        code = await call.code()
    except asyncio.CancelledError:
        call.cancel()  # the caller gave up on it
        tracing.end_rpc(span, grpc.StatusCode.CANCELLED, server=False)
        raise
    tracing.end_rpc(span, code, server=False)
    return call


def _ended(span: Any, call: Any) -> None:
    if call.cancelled():
        tracing.end_rpc(span, grpc.StatusCode.CANCELLED, server=False)
        return
    # The call is done, so its status is there; reading it is a coroutine all the same.
    task = asyncio.ensure_future(_end_with_status(span, call))
    _ending.add(task)  # the loop holds tasks weakly
    task.add_done_callback(_ending.discard)


_ending: set[asyncio.Future[None]] = set()


async def _end_with_status(span: Any, call: Any) -> None:
    try:
        code = await call.code()
    except Exception:
        code = grpc.StatusCode.UNKNOWN
    tracing.end_rpc(span, code, server=False)


# grpc.aio files an interceptor under the first call kind it matches, so one class per kind.
class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await _call(continuation, details, request, unary=True)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await _call(continuation, details, request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await _call(continuation, details, requests)


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await _call(continuation, details, requests)


def context_interceptors() -> list[Any]:
    return [_UnaryUnary(), _UnaryStream(), _StreamUnary(), _StreamStream()]


def channel(
    target: str,
    tls: TlsSettings | None,
    *,
    options: Sequence[tuple[str, Any]] = (),
    max_message_bytes: int | None = None,
) -> Any:
    """A channel to another Keel service: mutual TLS with this workload's certificate when
    ``tls`` is given (the callee learns who calls from it), plaintext otherwise."""
    if tls is None:
        return insecure_channel(target, options=options, max_message_bytes=max_message_bytes)
    return grpc.aio.secure_channel(
        target,
        channel_credentials(tls),
        options=_options(options, max_message_bytes),
        interceptors=context_interceptors(),
    )


def _options(
    options: Sequence[tuple[str, Any]], max_message_bytes: int | None
) -> list[tuple[str, Any]]:
    opts = list(options)
    if max_message_bytes is not None:
        opts += [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
        ]
    return opts


def insecure_channel(
    target: str, *, options: Sequence[tuple[str, Any]] = (), max_message_bytes: int | None = None
) -> Any:
    """A grpc.aio channel forwarding ``outgoing_metadata()``; callers still pass ``timeout=``."""
    return grpc.aio.insecure_channel(
        target, options=_options(options, max_message_bytes), interceptors=context_interceptors()
    )
