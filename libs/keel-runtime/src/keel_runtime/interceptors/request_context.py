"""Request context from metadata: request id, W3C trace context and principal."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from keel_runtime import context as ctx

logger = logging.getLogger("keel.transport")

CONTEXT_HEADERS = frozenset(
    {ctx.REQUEST_ID_HEADER, ctx.TRACEPARENT_HEADER, ctx.TRACESTATE_HEADER, ctx.PRINCIPAL_HEADER}
)

PRINCIPAL_CACHE_SIZE = 1024
"""Parsed principals kept by header value; a caller sends the same header on every call."""

_principals: dict[str, ctx.Principal] = {}


def context_headers(metadata: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """The request-context headers of a call (first value of each), in one pass."""
    found: dict[str, str] = {}
    for key, value in metadata:
        if key in CONTEXT_HEADERS and key not in found and isinstance(value, str):
            found[key] = value
    return found


def principal_from_header(raw: str | None) -> ctx.Principal | None:
    """The principal of ``x-keel-principal``, or None when absent or malformed.

    Parsed before the access log, so that the log line carries the subject even when the
    call is refused; a malformed header leaves no principal (refused as PRINCIPAL_INVALID).
    Principal is immutable, so one parsed value is shared by every call sending that
    header; base64 + JSON + two frozensets per call were a visible share of a no-op call.
    """
    if raw is None:
        return None
    principal = _principals.get(raw)
    if principal is None:
        principal = parse_principal(raw)
        if principal is not None:
            if len(_principals) >= PRINCIPAL_CACHE_SIZE:
                _principals.clear()  # crude but bounded; refilling costs one parse per caller
            _principals[raw] = principal
    return principal


def parse_principal(raw: str | None) -> ctx.Principal | None:
    if raw is None:
        return None
    try:
        return ctx.Principal.from_header(raw)
    except ValueError as exc:
        # The reason only; the header value itself is credentials-adjacent and never logged.
        logger.warning("malformed principal metadata", extra={"problem": str(exc)})
        return None
