"""One JSON access-log line per RPC with its final status code."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc

from keel_runtime import context as ctx
from keel_runtime.interceptors.base import Call, Proceed, RpcInterceptor
from keel_runtime.interceptors.principal import is_infrastructure

logger = logging.getLogger("keel.access")


class AccessLogInterceptor(RpcInterceptor):
    """Logs method, code, duration_ms, request_id, principal subject/org and peer.

    Metadata values are never logged: they may carry credentials.
    """

    async def handle(self, call: Call, request: Any, proceed: Proceed) -> Any:
        started = time.perf_counter()
        code: grpc.StatusCode = grpc.StatusCode.OK
        try:
            result = await proceed(request)
            code = _code_of(call.context, grpc.StatusCode.OK)
            return result
        except grpc.aio.AbortError:
            code = _code_of(call.context, grpc.StatusCode.UNKNOWN)
            raise
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        except BaseException:
            code = grpc.StatusCode.UNKNOWN
            raise
        finally:
            _log(call, code, time.perf_counter() - started)


def _log(call: Call, code: grpc.StatusCode, seconds: float) -> None:
    if code in _SERVER_FAULTS:
        level = logging.ERROR
    elif code == grpc.StatusCode.OK and is_infrastructure(call.method):
        level = logging.DEBUG  # health probes every few seconds would drown the log
    else:
        level = logging.INFO
    if not logger.isEnabledFor(level):
        return
    principal = ctx.current_principal()
    logger.log(
        level,
        "rpc",
        extra={
            "method": call.method,
            "request_id": ctx.current_request_id(),
            "code": code.name,
            "duration_ms": round(seconds * 1000, 3),
            "principal_sub": principal.subject if principal else None,
            "principal_org": principal.org_id if principal else None,
            "peer": _peer(call.context),
        },
    )


_SERVER_FAULTS = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})


def _code_of(context: Any, fallback: grpc.StatusCode) -> grpc.StatusCode:
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
