"""Domain error -> gRPC status code, for the runtime's error interceptor (MRO lookup)."""

from __future__ import annotations

import grpc

from items.domain import errors

ERROR_MAP: dict[type[BaseException], grpc.StatusCode] = {
    errors.ItemNotFound: grpc.StatusCode.NOT_FOUND,
    errors.TagNotFound: grpc.StatusCode.NOT_FOUND,
    errors.InvalidStateTransition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ItemNotEditable: grpc.StatusCode.FAILED_PRECONDITION,
    errors.RequestIdReused: grpc.StatusCode.ALREADY_EXISTS,
    errors.TagAlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.InvalidTagName: grpc.StatusCode.INVALID_ARGUMENT,
    errors.InvalidSource: grpc.StatusCode.INVALID_ARGUMENT,
    errors.InvalidUpdateMask: grpc.StatusCode.INVALID_ARGUMENT,
}
