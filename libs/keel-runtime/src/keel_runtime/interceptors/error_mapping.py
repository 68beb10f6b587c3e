"""Maps exceptions to ``google.rpc.Status`` by MRO lookup; an unreachable dependency is
UNAVAILABLE with a retry hint; anything else unmapped is INTERNAL."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import grpc

from keel_runtime.errors import RUNTIME_ERROR_MAP, ErrorMap, ValidationFailed
from keel_runtime.interceptors.outages import MESSAGES, RETRY_DELAY, outage_reason
from keel_runtime.interceptors.status import error_domain, internal_status, rich_status
from keel_runtime.logging import exception_fields

logger = logging.getLogger("keel.errors")


class ErrorMapper:
    """Turns an exception into a status with ErrorInfo{reason, domain, metadata} + RequestInfo.

    reason is ``exc.reason`` when present, else the code name; metadata is ``exc.metadata``
    when it is a mapping. The message is ``str(exc)`` only for exceptions that carry a
    ``reason`` (domain and runtime errors, written to be shown); any other mapped exception
    (e.g. a driver error) gets a generic message, since its text may hold SQL.
    """

    def __init__(self, service: str, error_map: ErrorMap) -> None:
        self._domain = error_domain(service)
        self._map: dict[type[BaseException], grpc.StatusCode] = {
            **RUNTIME_ERROR_MAP,
            **error_map,
        }
        self._resolved: dict[type[BaseException], grpc.StatusCode | None] = {}

    def code_for(self, exc_type: type[BaseException]) -> grpc.StatusCode | None:
        if exc_type not in self._resolved:
            self._resolved[exc_type] = next(
                (self._map[cls] for cls in exc_type.__mro__ if cls in self._map), None
            )
        return self._resolved[exc_type]

    def status_for(self, exc: Exception, method: str) -> Any:
        code = self.code_for(type(exc))
        if code is None and (outage := outage_reason(exc)) is not None:
            return self._unavailable(outage, exc, method)
        if code is None or code == grpc.StatusCode.OK:
            # Type, SQL text and a traceback without messages: a message (a driver error's
            # especially) may quote the request's data, passwords and secrets included.
            logger.error(
                "unhandled error in %s", method, extra={"method": method, **exception_fields(exc)}
            )
            return internal_status()
        reason = getattr(exc, "reason", None)
        metadata = getattr(exc, "metadata", None)
        return rich_status(
            code,
            str(exc) if isinstance(reason, str) else _generic_message(code),
            reason=reason if isinstance(reason, str) and reason else code.name,
            domain=self._domain,
            metadata=metadata if isinstance(metadata, Mapping) else None,
            violations=exc.violations if isinstance(exc, ValidationFailed) else (),
        )

    def _unavailable(self, reason: str, exc: Exception, method: str) -> Any:
        # An outage is not a bug: its type and SQLSTATE say enough, without a traceback.
        fields = exception_fields(exc, with_traceback=False)
        logger.warning(
            "dependency unavailable in %s",
            method,
            extra={"method": method, "reason": reason, **fields},
        )
        return rich_status(
            grpc.StatusCode.UNAVAILABLE,
            MESSAGES[reason],
            reason=reason,
            domain=self._domain,
            retry_delay=RETRY_DELAY,
        )


ErrorMappingInterceptor = ErrorMapper
"""Older name, kept so callers written against it keep working."""


def _generic_message(code: grpc.StatusCode) -> str:
    return str(code.name).lower().replace("_", " ")
