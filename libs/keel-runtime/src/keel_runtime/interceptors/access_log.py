"""One JSON access-log line per RPC with its final status code."""

from __future__ import annotations

import logging
from typing import Any

import grpc

from keel_runtime import context as ctx
from keel_runtime.logging import log_fields

logger = logging.getLogger("keel.access")

_SERVER_FAULTS = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})


def log_access(
    method: str,
    infrastructure: bool,
    code: grpc.StatusCode,
    seconds: float,
    request_id: str,
    principal: ctx.Principal | None,
    context: Any,
) -> None:
    """Logs method, code, duration_ms, request_id, principal subject/org and peer.

    Metadata values are never logged: they may carry credentials.
    """
    if code in _SERVER_FAULTS:
        level = logging.ERROR
    elif infrastructure and code == grpc.StatusCode.OK:
        level = logging.DEBUG  # health probes every few seconds would drown the log
    else:
        level = logging.INFO
    if not logger.isEnabledFor(level):
        return
    log_fields(
        logger,
        level,
        "rpc",
        {
            "method": method,
            "request_id": request_id,
            "code": code.name,
            "duration_ms": round(seconds * 1000, 3),
            "principal_sub": principal.subject if principal else None,
            "principal_org": principal.org_id if principal else None,
            "peer": _peer(context),
        },
    )


def status_code_of(context: Any, fallback: grpc.StatusCode) -> grpc.StatusCode:
    """The code the servicer set (or aborted with), else ``fallback``."""
    try:
        code = context.code()
    except Exception:
        return fallback
    return code if isinstance(code, grpc.StatusCode) else fallback


def _peer(context: Any) -> str | None:
    try:
        peer = context.peer()
    except Exception:
        return None
    return peer if isinstance(peer, str) else None
