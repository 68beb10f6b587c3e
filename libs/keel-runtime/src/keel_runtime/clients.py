"""Outgoing gRPC channels that forward the request context (request id, trace, principal)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from keel_runtime.context import outgoing_metadata
from keel_runtime.tls import TlsSettings, channel_credentials


def _with_context(details: Any) -> Any:
    extra = outgoing_metadata()
    if not extra:
        return details
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    for key, value in extra:
        # A value the caller set explicitly wins over the ambient context.
        if key not in metadata:
            metadata.add(key, value)
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


# grpc.aio files an interceptor under the first call kind it matches, so one class per kind.
class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_context(details), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_context(details), request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(_with_context(details), requests)


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):  # type: ignore[misc]
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(_with_context(details), requests)


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
