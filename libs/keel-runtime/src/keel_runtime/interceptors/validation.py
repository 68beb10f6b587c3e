"""Enforces the protovalidate rules declared in the protos, and text hygiene, on every request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import protovalidate
from google.protobuf.message import DecodeError

from keel_runtime.errors import FieldViolation, ValidationFailed
from keel_runtime.interceptors.text import text_violations

# Every protovalidate option (buf.validate.message / .oneof / .field, predefined rules
# included, which nest inside) is extension 1159 of a *Options message, a length-delimited
# field: its tag is these two bytes on the wire. Finding them in an options message's
# serialization (extension known to the pool or kept as an unknown field alike) means
# "may have rules"; a false match only costs a validation that finds nothing.
_RULES_TAG = b"\xba\x48"

_has_rules: dict[Any, bool] = {}
"""Message class -> whether any rule applies to it or to a message reachable from it."""


def needs_validation(message: Any) -> bool:
    """False when no protovalidate rule can apply to ``message``'s type, so the call is skipped.

    Asking protovalidate costs a few microseconds even for a message without rules; this
    costs one dict lookup after the first message of a type.
    """
    cls = type(message)
    known = _has_rules.get(cls)
    if known is None:
        try:
            known = _reaches_rules(cls.DESCRIPTOR)
        except Exception:
            known = True  # a message API we cannot inspect: validate, as before
        _has_rules[cls] = known
    return known


def _reaches_rules(root: Any) -> bool:
    """Whether ``root`` or any message type reachable through its fields declares a rule.

    Nested messages (maps and repeated included) are validated with their parent, so their
    rules count; the walk visits each type once, which also ends recursive types.
    """
    seen = {root.full_name}
    pending = [root]
    while pending:
        descriptor = pending.pop()
        if descriptor.extension_ranges:
            return True  # extensions set by the caller may declare rules of their own
        options = [descriptor, *descriptor.fields, *descriptor.oneofs]
        if any(_RULES_TAG in item.GetOptions().SerializeToString() for item in options):
            return True
        for field in descriptor.fields:
            nested = field.message_type
            if nested is not None and nested.full_name not in seen:
                seen.add(nested.full_name)
                pending.append(nested)
    return False


@dataclass(frozen=True, slots=True)
class Refused:
    """A request refused while it was parsed; ``check`` raises its violations in the chain,
    after the principal step, so the refusal reaches the caller like any invalid input."""

    violations: tuple[FieldViolation, ...]
    message: Any = None
    """The parsed request (None when its bytes could not be parsed)."""


UNPARSABLE = FieldViolation(
    "",
    "the request could not be parsed (a string field may hold invalid UTF-8)",
    "message.parse",
)


def checking(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """``deserializer``, also refusing what PostgreSQL could not store: bytes protobuf cannot
    parse (invalid UTF-8, such as an unpaired surrogate, which gRPC would answer UNKNOWN
    with the parser's text) and NUL characters in strings (see ``text``)."""
    if deserializer is None:
        return None
    parse = deserializer

    def deserialize(data: bytes) -> Any:
        try:
            message = parse(data)
        except DecodeError:
            return Refused((UNPARSABLE,))
        # A NUL character is a 0x00 byte on the wire. Most requests hold no 0x00 byte at
        # all, so one scan of the bytes spares them the walk through their strings.
        if b"\x00" in data:
            violations = text_violations(message)
            if violations:
                return Refused(tuple(violations), message)
        return message

    return deserialize


def check(message: Any) -> None:
    """Raise ValidationFailed listing every violated rule of ``message``: those found while
    parsing it (``checking``), then the protovalidate rules that apply to it."""
    violations: list[FieldViolation] = []
    if isinstance(message, Refused):
        violations.extend(message.violations)
        message = message.message
        if message is None:
            raise ValidationFailed(violations)
    if needs_validation(message):
        violations.extend(
            to_field_violation(v.proto) for v in protovalidate.collect_violations(message)
        )
    if violations:
        raise ValidationFailed(violations)


async def validated_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Streamed requests are checked one by one as the servicer iterates them (a servicer that
    reads with ``context.read()`` instead bypasses this)."""
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
