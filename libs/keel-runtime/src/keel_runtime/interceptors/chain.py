"""The server chain as one grpc.aio interceptor: context, access log, errors, principal, input."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import grpc

from keel_runtime import access as acl
from keel_runtime import context as ctx
from keel_runtime.errors import ErrorMap, RuntimeRpcError
from keel_runtime.interceptors.access_log import log_access, status_code_of
from keel_runtime.interceptors.error_mapping import ErrorMapper
from keel_runtime.interceptors.principal import (
    anonymous_refusal,
    identify,
    is_infrastructure,
    normalize_method,
)
from keel_runtime.interceptors.request_context import context_headers
from keel_runtime.interceptors.validation import (
    Refused,
    check,
    checking,
    needs_validation,
    validated_stream,
)
from keel_runtime.metrics import NO_METRICS, Metrics, RpcMetrics
from keel_runtime.tls import peer_workload
from keel_runtime.tokens import TokenVerifier, bearer_token
from keel_runtime.tracing import spans as tracing

_OK = grpc.StatusCode.OK
auth_log = logging.getLogger("keel.auth")

# The call's metadata, as grpc.aio already converted it for intercept_service. Every RPC
# runs in a task of its own, intercept_service right before the handler in that task, so a
# context variable hands it over without building a handler per call; should it ever be
# unset, the behaviour asks the servicer context, which converts the metadata again.
_call_metadata: ContextVar[tuple[tuple[str, Any], ...] | None] = ContextVar(
    "keel_call_metadata", default=None
)


@dataclass(frozen=True, slots=True)
class ChainedMethod:
    """One method behind the chain; built once per method, its ``handle`` runs per call."""

    method: str
    """Full method name, ``/package.Service/Method``."""
    inner: Callable[[Any, Any], Any]
    """The servicer behaviour (a coroutine function, or an async generator function)."""
    errors: ErrorMapper
    public: bool
    """Callable without a principal: infrastructure or a declared public method."""
    access: acl.MethodAccess
    """What the contract declares: platform only, or the API-key scopes that reach it."""
    validated: bool
    """Requests go through protovalidate and text hygiene (not health and reflection)."""
    infrastructure: bool
    request_streaming: bool
    response_streaming: bool
    rpc_metrics: RpcMetrics
    """This method's request counter and duration histogram, resolved once."""
    metrics: Metrics
    mtls: bool
    """The server requires client certificates: callers have a workload identity."""
    tokens: TokenVerifier
    """Verifies the end user's access token (shared by every method of the server)."""

    async def handle(self, request: Any, context: Any) -> Any:
        """One call through the chain; the numbered steps are those of ``server_interceptors``."""
        # 1. Request context: request id, trace, principal (from the access token this
        # service verifies, or the peer's workload certificate). The request id is echoed in
        # initial metadata, sent before the servicer runs: servicers must not send their own
        # (trailing metadata is theirs to use).
        metadata = _call_metadata.get()
        headers = context_headers(context.invocation_metadata() if metadata is None else metadata)
        request_id = ctx.accept_request_id(headers.get(ctx.REQUEST_ID_HEADER))
        token = bearer_token(headers.get(ctx.AUTHORIZATION_HEADER))
        peer = peer_workload(context) if self.mtls else None
        identified = await identify(
            token,
            headers.get(ctx.ACTING_ORG_HEADER),
            peer,
            mtls=self.mtls,
            verifier=self.tokens,
        )
        if isinstance(identified, RuntimeRpcError):
            refused: RuntimeRpcError | None = identified
            principal = None
        else:
            refused, principal = None, identified
        # The call's span (tracing off: none) and the traceparent it runs under.
        span, traceparent = tracing.start_server(
            self.method, headers.get(ctx.TRACEPARENT_HEADER), request_id, self.infrastructure
        )
        with ctx.bound(
            request_id=request_id,
            traceparent=traceparent,
            tracestate=headers.get(ctx.TRACESTATE_HEADER),
            principal=principal,
        ):
            await context.send_initial_metadata(((ctx.REQUEST_ID_HEADER, request_id),))
            # 2. Access log and metrics: record the final status code, whatever happens inside.
            started = time.perf_counter()
            code = _OK
            recorded = False
            try:
                # 3. Error mapping: covers the refusals below and the servicer alike.
                try:
                    # 4. Principal: a credential that does not verify, then anonymous
                    # calls, are refused before input is looked at; then what the contracts
                    # say this principal may call (scopes, platform-only methods).
                    if refused is not None:
                        self.metrics.principal_refused(refused.reason, peer)
                        auth_log.warning(
                            "principal refused",
                            extra={"reason": refused.reason, "peer_workload": peer or ""},
                        )
                        raise refused
                    if principal is None:
                        if not self.public:
                            refusal = anonymous_refusal()
                            self.metrics.principal_refused(refusal.reason, peer)
                            raise refusal
                    elif not self.public:
                        acl.check(self.access, principal)
                    # 5. Validation, right before the servicer.
                    if self.validated:
                        if self.request_streaming:
                            request = validated_stream(request)
                        elif type(request) is Refused or needs_validation(request):
                            check(request)
                    if self.response_streaming:
                        await _drive_stream(self.inner, request, context)
                        result = None
                    else:
                        result = await self.inner(request, context)
                except grpc.aio.AbortError:
                    raise  # the servicer already chose the status
                except Exception as exc:
                    status = self.errors.status_for(exc, self.method)
                    # abort sends the status at once: record the call first, so whoever
                    # reads the log after the reply finds the line there.
                    code = status.code
                    self._record(code, started, request_id, principal, context)
                    recorded = True
                    await context.abort_with_status(status)
                    result = None  # not reached: abort_with_status raises AbortError
                code = status_code_of(context, _OK)
                return result
            except grpc.aio.AbortError:
                if not recorded:
                    code = status_code_of(context, grpc.StatusCode.UNKNOWN)
                raise
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except BaseException:
                code = grpc.StatusCode.UNKNOWN
                raise
            finally:
                if not recorded:
                    self._record(code, started, request_id, principal, context)
                tracing.end_rpc(span, code)

    def _record(
        self,
        code: grpc.StatusCode,
        started: float,
        request_id: str,
        principal: Any,
        context: Any,
    ) -> None:
        """Metrics and the access-log line of one call (once, with its final code)."""
        seconds = time.perf_counter() - started
        self.rpc_metrics.record(code, seconds)
        # Only a principal the call may act as: a refused one is the caller's claim.
        log_access(self.method, self.infrastructure, code, seconds, request_id, principal, context)


class ServerChain(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Runs the five steps of ``server_interceptors`` in their order, inside one coroutine.

    Each grpc.aio interceptor layer costs a coroutine, a continuation and a freshly built
    method handler per call; five of them more than doubled the server cost of a no-op
    call. Here the wrapped handler is built once per method and reused, and the steps are
    plain code in one ``try`` nest, so a call pays for the work and little else.
    """

    def __init__(
        self,
        service: str,
        error_map: ErrorMap,
        public_methods: Collection[str] = (),
        *,
        metrics: Metrics = NO_METRICS,
        mtls: bool = False,
        tokens: TokenVerifier | None = None,
    ) -> None:
        self.errors = ErrorMapper(service, error_map)
        self.metrics = metrics
        self.mtls = mtls
        # Without a source of identity's keys every token is refused (SIGNING_KEYS_UNAVAILABLE).
        self.tokens = tokens if tokens is not None else TokenVerifier(None)
        # Public methods come from the contracts; ``public_methods`` adds methods of
        # services outside them (test protos).
        self._public = acl.public_methods() | {normalize_method(m) for m in public_methods}
        # method -> (the handler the server resolved, our wrapping of it). The resolved
        # handler is compared by identity, so a handler that changes is wrapped anew.
        # Keys are only methods some handler accepted, a set fixed by the services.
        self._wrapped: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[Any]],
        handler_call_details: Any,
    ) -> Any:
        _call_metadata.set(handler_call_details.invocation_metadata)
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method: str = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self.wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def wrap(self, handler: Any, method: str) -> Any:
        """A copy of ``handler`` whose behaviour runs inside the chain."""
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
        infrastructure = is_infrastructure(method)
        chained = ChainedMethod(
            method=method,
            inner=inner,
            errors=self.errors,
            public=infrastructure or method in self._public,
            access=acl.method_access(method),
            validated=not infrastructure,
            infrastructure=infrastructure,
            request_streaming=request_streaming,
            response_streaming=response_streaming,
            rpc_metrics=self.metrics.rpc(method),
            metrics=self.metrics,
            mtls=self.mtls,
            tokens=self.tokens,
        )
        # A bound coroutine method: grpc.aio inspects the behaviour on every call to pick
        # its async path (and context.write for response streams); a partial would take
        # inspect's slow branch each time.
        deserializer = handler.request_deserializer
        return factory(
            chained.handle,
            # Text hygiene runs on the bytes as they are parsed; what it refuses reaches
            # validation (INVALID_ARGUMENT) instead of failing inside gRPC.
            request_deserializer=checking(deserializer) if chained.validated else deserializer,
            response_serializer=handler.response_serializer,
        )


async def _drive_stream(inner: Callable[[Any, Any], Any], request: Any, context: Any) -> None:
    """Run a response-streaming behaviour, async generator or ``context.write`` style alike.

    Turning the response stream into one coroutine lets the single ``try`` nest above cover
    all four RPC shapes.
    """
    result = inner(request, context)
    if inspect.isasyncgen(result):
        async for response in result:
            await context.write(response)
        return None
    await result
    return None
