"""Identity error categories -> gRPC status codes; the runtime looks a raised error up by MRO."""

from __future__ import annotations

import grpc

from identity.domain import errors
from keel_runtime.errors import ErrorMap

ERROR_MAP: ErrorMap = {
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Conflict: grpc.StatusCode.ALREADY_EXISTS,
    errors.PreconditionFailed: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    errors.AuthenticationFailed: grpc.StatusCode.UNAUTHENTICATED,
    errors.RateLimited: grpc.StatusCode.RESOURCE_EXHAUSTED,
}
