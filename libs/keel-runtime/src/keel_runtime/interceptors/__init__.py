"""Server interceptors and the one order they run in (see ``server_interceptors``)."""

from __future__ import annotations

from collections.abc import Collection

from keel_runtime.errors import ErrorMap
from keel_runtime.interceptors.access_log import AccessLogInterceptor
from keel_runtime.interceptors.base import RpcInterceptor
from keel_runtime.interceptors.error_mapping import ErrorMappingInterceptor
from keel_runtime.interceptors.principal import PrincipalInterceptor
from keel_runtime.interceptors.request_context import RequestContextInterceptor
from keel_runtime.interceptors.validation import ValidationInterceptor


def server_interceptors(
    service: str, error_map: ErrorMap, public_methods: Collection[str] = ()
) -> list[RpcInterceptor]:
    """The chain, outermost first. The order is load-bearing:

    1. RequestContextInterceptor - request id, trace context, principal into contextvars, so
       everything inside (logs, error details, outgoing calls) can see them.
    2. AccessLogInterceptor - outside error mapping, so it logs the final status code.
    3. ErrorMappingInterceptor - outside the refusals below, so they share its status format.
    4. PrincipalInterceptor - refuses anonymous calls before any input is looked at.
    5. ValidationInterceptor - protovalidate, right before the servicer.
    """
    return [
        RequestContextInterceptor(),
        AccessLogInterceptor(),
        ErrorMappingInterceptor(service, error_map),
        PrincipalInterceptor(public_methods),
        ValidationInterceptor(),
    ]


__all__ = [
    "AccessLogInterceptor",
    "ErrorMappingInterceptor",
    "PrincipalInterceptor",
    "RequestContextInterceptor",
    "RpcInterceptor",
    "ValidationInterceptor",
    "server_interceptors",
]
