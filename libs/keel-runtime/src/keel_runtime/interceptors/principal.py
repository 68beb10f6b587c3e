"""Refuses calls without a principal, except health, reflection and declared public methods."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from keel_runtime import context as ctx
from keel_runtime.errors import Unauthenticated
from keel_runtime.interceptors.base import Call, Proceed, RpcInterceptor

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


class PrincipalInterceptor(RpcInterceptor):
    """Defence in depth: the gateway authenticates, yet no service trusts an anonymous call.

    The principal itself is parsed by RequestContextInterceptor; this decides only.
    """

    def __init__(self, public_methods: Collection[str] = ()) -> None:
        self._public = frozenset(normalize_method(m) for m in public_methods)

    async def handle(self, call: Call, request: Any, proceed: Proceed) -> Any:
        if ctx.current_principal() is None and not (
            call.method in self._public or is_infrastructure(call.method)
        ):
            if call.header(ctx.PRINCIPAL_HEADER) is not None:
                raise Unauthenticated("principal metadata is malformed", reason="PRINCIPAL_INVALID")
            raise Unauthenticated("a principal is required", reason="PRINCIPAL_REQUIRED")
        return await proceed(request)
