"""Request context from metadata: request id, W3C trace context, credentials."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from keel_runtime import context as ctx

CONTEXT_HEADERS = frozenset(
    {
        ctx.REQUEST_ID_HEADER,
        ctx.TRACEPARENT_HEADER,
        ctx.TRACESTATE_HEADER,
        ctx.AUTHORIZATION_HEADER,
        ctx.ACTING_ORG_HEADER,
    }
)


def context_headers(metadata: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """The request-context headers of a call (first value of each), in one pass."""
    found: dict[str, str] = {}
    for key, value in metadata:
        if key in CONTEXT_HEADERS and key not in found and isinstance(value, str):
            found[key] = value
    return found
