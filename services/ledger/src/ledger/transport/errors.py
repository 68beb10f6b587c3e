"""Ledger error categories -> gRPC status codes; the runtime looks a raised error up by MRO."""

from __future__ import annotations

import grpc

from keel_runtime.errors import ErrorMap
from ledger.domain import errors

ERROR_MAP: ErrorMap = {
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Conflict: grpc.StatusCode.ALREADY_EXISTS,
    errors.PreconditionFailed: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Forbidden: grpc.StatusCode.PERMISSION_DENIED,
}
