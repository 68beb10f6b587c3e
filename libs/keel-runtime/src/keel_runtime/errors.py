"""Runtime-level errors (authentication, validation) and the error-map type services provide."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import grpc

ErrorMap = Mapping[type[BaseException], grpc.StatusCode]
"""Exception class -> status code; looked up along the raised exception's MRO."""


class RuntimeRpcError(Exception):
    """Root of the runtime's own errors; like domain errors, each carries a stable reason."""

    reason: str = "RUNTIME_ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})


class Unauthenticated(RuntimeRpcError):
    """The call carries no (or an unusable) principal."""

    reason = "UNAUTHENTICATED"


class PermissionDenied(RuntimeRpcError):
    """The principal is known but may not do this."""

    reason = "PERMISSION_DENIED"


class CallerRefused(PermissionDenied):
    """The caller lacks what the operation needs: an organization, a role, a scope, being a
    named Keel service or the platform (``keel_runtime.caller``). Every service refuses with
    this one type; the reason says what was missing, the metadata what would have done."""


class DependencyUnavailable(RuntimeRpcError):
    """Something the call needs from another service cannot be had now; worth a retry."""

    reason = "DEPENDENCY_UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field: a dotted path such as ``owner.email`` and a human description."""

    field: str
    description: str
    rule: str = ""


class ValidationFailed(RuntimeRpcError):
    """The request breaks its declared (or a handler's) validation rules."""

    reason = "VALIDATION_FAILED"

    def __init__(self, violations: Sequence[FieldViolation], message: str = "") -> None:
        self.violations = tuple(violations)
        super().__init__(message or _summary(self.violations))


def _summary(violations: Sequence[FieldViolation]) -> str:
    if not violations:
        return "invalid request"
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return f"invalid {first.field or 'request'}: {first.description}{more}"


RUNTIME_ERROR_MAP: ErrorMap = {
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    DependencyUnavailable: grpc.StatusCode.UNAVAILABLE,
    ValidationFailed: grpc.StatusCode.INVALID_ARGUMENT,
}
"""Always in force; a service's own error map is layered on top."""
