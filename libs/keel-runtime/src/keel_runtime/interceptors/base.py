"""A server interceptor base that wraps every RPC shape with one ``handle`` coroutine."""

from __future__ import annotations

import abc
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

Proceed = Callable[[Any], Awaitable[Any]]
"""Runs the rest of the chain with a (possibly replaced) request or request iterator."""


@dataclass(frozen=True, slots=True)
class Call:
    """What an interceptor knows about the RPC in hand."""

    method: str
    """Full method name, ``/package.Service/Method``."""
    context: Any  # grpc.aio.ServicerContext
    metadata: tuple[tuple[str, Any], ...]
    request_streaming: bool
    response_streaming: bool

    def header(self, key: str) -> str | None:
        """First value of an ASCII metadata key, or None."""
        for name, value in self.metadata:
            if name == key:
                return value if isinstance(value, str) else None
        return None


class RpcInterceptor(grpc.aio.ServerInterceptor, abc.ABC):  # type: ignore[misc]
    """Subclasses implement ``handle``; streaming responses are driven through ``context.write``.

    Turning a response stream into a coroutine lets one ``handle`` (try/except/finally around
    ``await proceed(request)``) cover all four RPC shapes.
    """

    @abc.abstractmethod
    async def handle(self, call: Call, request: Any, proceed: Proceed) -> Any: ...

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[Any]],
        handler_call_details: Any,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return wrap_handler(
            handler,
            handler_call_details.method,
            tuple(handler_call_details.invocation_metadata or ()),
            self.handle,
        )


def wrap_handler(
    handler: Any,
    method: str,
    metadata: tuple[tuple[str, Any], ...],
    handle: Callable[[Call, Any, Proceed], Awaitable[Any]],
) -> Any:
    """A copy of ``handler`` whose behaviour runs inside ``handle``."""
    request_streaming = bool(handler.request_streaming)
    response_streaming = bool(handler.response_streaming)
    if request_streaming and response_streaming:
        inner, factory = handler.stream_stream, grpc.stream_stream_rpc_method_handler
    elif request_streaming:
        inner, factory = handler.stream_unary, grpc.stream_unary_rpc_method_handler
    elif response_streaming:
        inner, factory = handler.unary_stream, grpc.unary_stream_rpc_method_handler
    else:
        inner, factory = handler.unary_unary, grpc.unary_unary_rpc_method_handler

    async def behaviour(request: Any, context: Any) -> Any:
        call = Call(method, context, metadata, request_streaming, response_streaming)

        async def proceed(req: Any) -> Any:
            if response_streaming:
                return await _drive_stream(inner, req, context)
            return await inner(req, context)

        return await handle(call, request, proceed)

    return factory(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


async def _drive_stream(inner: Callable[[Any, Any], Any], request: Any, context: Any) -> None:
    """Run a response-streaming behaviour, async generator or ``context.write`` style alike."""
    result = inner(request, context)
    if inspect.isasyncgen(result):
        async for response in result:
            await context.write(response)
        return None
    await result
    return None
