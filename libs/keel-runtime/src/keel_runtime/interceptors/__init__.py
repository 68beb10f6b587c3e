"""Server interceptors and the one order they run in (see ``server_interceptors``)."""

from __future__ import annotations

from collections.abc import Collection

from keel_runtime.errors import ErrorMap
from keel_runtime.interceptors.chain import ServerChain
from keel_runtime.interceptors.error_mapping import ErrorMapper, ErrorMappingInterceptor
from keel_runtime.metrics import NO_METRICS, Metrics
from keel_runtime.tokens import TokenVerifier


def server_interceptors(
    service: str,
    error_map: ErrorMap,
    public_methods: Collection[str] = (),
    *,
    metrics: Metrics = NO_METRICS,
    mtls: bool = False,
    tokens: TokenVerifier | None = None,
) -> list[ServerChain]:
    """The chain, as one grpc.aio interceptor whose steps run in this load-bearing order:

    1. Request context - request id, trace context, principal into contextvars, so
       everything inside (logs, error details, outgoing calls) can see them.
    2. Access log and RPC metrics - outside error mapping, so they see the final status code.
    3. Error mapping - outside the refusals below, so they share its status format.
    4. Principal - refuses a credential that does not verify (an access token checked by
       ``tokens``, a workload certificate; see ``interceptors.principal``), then anonymous
       calls, before any input is looked at.
    5. Validation - protovalidate and text hygiene (no NUL in any string), right before
       the servicer.

    One interceptor rather than five: each grpc.aio layer costs a coroutine and a rebuilt
    method handler per call (see ``ServerChain``).
    """
    return [
        ServerChain(service, error_map, public_methods, metrics=metrics, mtls=mtls, tokens=tokens)
    ]


__all__ = [
    "ErrorMapper",
    "ErrorMappingInterceptor",
    "ServerChain",
    "server_interceptors",
]
