"""Enforces the protovalidate rules declared in the protos on every request message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import protovalidate

from keel_runtime.errors import FieldViolation, ValidationFailed
from keel_runtime.interceptors.base import Call, Proceed, RpcInterceptor
from keel_runtime.interceptors.principal import is_infrastructure


class ValidationInterceptor(RpcInterceptor):
    """INVALID_ARGUMENT with BadRequest field violations (via ValidationFailed) on bad input.

    Streamed requests are checked one by one as the servicer iterates them (a servicer that
    reads with ``context.read()`` instead bypasses this).
    """

    async def handle(self, call: Call, request: Any, proceed: Proceed) -> Any:
        if is_infrastructure(call.method):
            return await proceed(request)
        if call.request_streaming:
            return await proceed(_validated_stream(request))
        check(request)
        return await proceed(request)


def check(message: Any) -> None:
    """Raise ValidationFailed listing every violated rule of ``message``."""
    violations = protovalidate.collect_violations(message)
    if violations:
        raise ValidationFailed([to_field_violation(v.proto) for v in violations])


async def _validated_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for message in requests:
        check(message)
        yield message


def to_field_violation(violation: Any) -> FieldViolation:
    return FieldViolation(
        field=field_path(violation.field.elements if violation.field else ()),
        description=violation.message,
        rule=violation.rule_id,
    )


def field_path(elements: Any) -> str:
    """``owner.email``, ``items[2].sku``, ``labels["env"]`` (the protovalidate string form)."""
    parts: list[str] = []
    for element in elements:
        segment = element.field_name
        subscript = element.subscript
        if subscript is not None:
            key = subscript.value
            if subscript.field == "string_key":
                segment += f'["{key}"]'
            elif subscript.field == "bool_key":
                segment += f"[{str(key).lower()}]"
            else:
                segment += f"[{key}]"
        parts.append(segment)
    return ".".join(parts)
