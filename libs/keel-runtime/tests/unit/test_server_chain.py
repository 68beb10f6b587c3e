"""The chain wraps each method's handler once and reuses it for every call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc

from keel_runtime.interceptors import ServerChain


@dataclass
class Details:
    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


async def _ok(request: Any, context: Any) -> Any:
    return request


def _handler() -> Any:
    return grpc.unary_unary_rpc_method_handler(_ok)


async def test_handler_is_wrapped_once_per_method() -> None:
    chain = ServerChain("probe", {})
    handler = _handler()

    async def continuation(details: Any) -> Any:
        return handler

    first = await chain.intercept_service(continuation, Details("/p.S/A"))
    second = await chain.intercept_service(continuation, Details("/p.S/A", (("k", "v"),)))
    assert first is second
    assert first.unary_unary is not handler.unary_unary


async def test_a_changed_handler_is_wrapped_anew() -> None:
    chain = ServerChain("probe", {})
    handlers = iter((_handler(), _handler()))

    async def continuation(details: Any) -> Any:
        return next(handlers)

    first = await chain.intercept_service(continuation, Details("/p.S/A"))
    second = await chain.intercept_service(continuation, Details("/p.S/A"))
    assert first is not second


async def test_unknown_method_stays_unknown() -> None:
    async def continuation(details: Any) -> Any:
        return None

    assert await ServerChain("probe", {}).intercept_service(continuation, Details("/p.S/X")) is None
