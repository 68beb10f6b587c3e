"""Outermost interceptor: request id, W3C trace context and principal into contextvars."""

from __future__ import annotations

import logging
from typing import Any

from keel_runtime import context as ctx
from keel_runtime.interceptors.base import Call, Proceed, RpcInterceptor

logger = logging.getLogger("keel.transport")


class RequestContextInterceptor(RpcInterceptor):
    """Accepts or makes ``x-request-id`` (echoed in initial metadata) and ``traceparent``.

    Initial metadata is sent before the servicer runs, so servicers must not send their own
    (trailing metadata is theirs to use).

    The principal header is parsed here, before the access log, so that the log line carries
    the subject even when an inner interceptor refuses the call; a malformed header leaves no
    principal (PrincipalInterceptor then refuses with PRINCIPAL_INVALID).
    """

    async def handle(self, call: Call, request: Any, proceed: Proceed) -> Any:
        request_id = ctx.accept_request_id(call.header(ctx.REQUEST_ID_HEADER))
        traceparent = ctx.child_traceparent(call.header(ctx.TRACEPARENT_HEADER))
        principal = parse_principal(call.header(ctx.PRINCIPAL_HEADER))
        with ctx.bound(
            request_id=request_id,
            traceparent=traceparent,
            tracestate=call.header(ctx.TRACESTATE_HEADER),
            principal=principal,
        ):
            await call.context.send_initial_metadata(((ctx.REQUEST_ID_HEADER, request_id),))
            return await proceed(request)


def parse_principal(raw: str | None) -> ctx.Principal | None:
    if raw is None:
        return None
    try:
        return ctx.Principal.from_header(raw)
    except ValueError as exc:
        # The reason only; the header value itself is credentials-adjacent and never logged.
        logger.warning("malformed principal metadata", extra={"problem": str(exc)})
        return None
