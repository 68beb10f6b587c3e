"""Refuses calls without a principal, except health, reflection and declared public methods."""

from __future__ import annotations

from keel_runtime.errors import Unauthenticated

# Infrastructure services every probe and operator tool must reach without credentials.
INFRASTRUCTURE_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)


def normalize_method(name: str) -> str:
    """``pkg.Svc/Method`` or ``/pkg.Svc/Method`` -> ``/pkg.Svc/Method``."""
    return name if name.startswith("/") else f"/{name}"


def is_infrastructure(method: str) -> bool:
    return method.startswith(INFRASTRUCTURE_PREFIXES)


def refusal(raw_principal: str | None) -> Unauthenticated:
    """Why a call with no usable principal is refused.

    Defence in depth: the gateway authenticates, yet no service trusts an anonymous call.
    The principal itself is parsed with the request context; this only words the refusal.
    """
    if raw_principal is not None:
        return Unauthenticated("principal metadata is malformed", reason="PRINCIPAL_INVALID")
    return Unauthenticated("a principal is required", reason="PRINCIPAL_REQUIRED")
