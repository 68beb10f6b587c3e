"""Domain error categories -> gRPC status codes (the runtime looks exceptions up by MRO)."""

from __future__ import annotations

import grpc

from identity.domain import errors
from keel_runtime.errors import ErrorMap

ERROR_MAP: ErrorMap = {
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.AuthenticationFailed: grpc.StatusCode.UNAUTHENTICATED,
    errors.AccessDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.PreconditionFailed: grpc.StatusCode.FAILED_PRECONDITION,
    errors.InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    errors.RateLimited: grpc.StatusCode.RESOURCE_EXHAUSTED,
}
