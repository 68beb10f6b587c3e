"""Building rich ``google.rpc.Status`` errors (ErrorInfo, BadRequest, RetryInfo, RequestInfo)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from keel_runtime.context import current_request_id
from keel_runtime.errors import FieldViolation

INTERNAL_MESSAGE = "internal error"


def error_domain(service: str) -> str:
    """ErrorInfo domain for a service: ``ledger`` -> ``ledger.keel``."""
    return f"{service}.keel"


def rich_status(
    code: grpc.StatusCode,
    message: str,
    *,
    reason: str | None = None,
    domain: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    violations: Sequence[FieldViolation] = (),
    retry_delay: timedelta | None = None,
) -> Any:
    """A ``grpc.Status`` carrying ErrorInfo (when a reason is given), BadRequest, RetryInfo
    (when a delay is given) and RequestInfo."""
    details: list[Any] = []
    if reason is not None:
        details.append(
            error_details_pb2.ErrorInfo(
                reason=reason,
                domain=domain or "",
                metadata={str(k): str(v) for k, v in (metadata or {}).items()},
            )
        )
    if violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description, reason=v.rule
                    )
                    for v in violations
                ]
            )
        )
    if retry_delay is not None:
        delay = duration_pb2.Duration()
        delay.FromTimedelta(retry_delay)
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    details.append(error_details_pb2.RequestInfo(request_id=current_request_id()))
    packed = []
    for detail in details:
        any_detail = any_pb2.Any()
        any_detail.Pack(detail)
        packed.append(any_detail)
    status = status_pb2.Status(code=code.value[0], message=message, details=packed)
    return rpc_status.to_status(status)


def internal_status() -> Any:
    """INTERNAL with a fixed message and only RequestInfo: nothing of the failure leaks."""
    return rich_status(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)
