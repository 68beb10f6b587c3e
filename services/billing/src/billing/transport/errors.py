"""Billing error categories -> gRPC status codes; the runtime looks a raised error up by MRO."""

from __future__ import annotations

import grpc

from billing.domain import errors as e
from keel_runtime.errors import ErrorMap

ERROR_MAP: ErrorMap = {
    e.NotFound: grpc.StatusCode.NOT_FOUND,
    e.InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    e.Conflict: grpc.StatusCode.ALREADY_EXISTS,
    e.PreconditionFailed: grpc.StatusCode.FAILED_PRECONDITION,
    e.Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    e.Aborted: grpc.StatusCode.ABORTED,
    e.Unavailable: grpc.StatusCode.UNAVAILABLE,
}
