"""Text hygiene: string fields holding characters PostgreSQL refuses in text are invalid input.

PostgreSQL stores no U+0000 in ``text`` or ``jsonb``; a NUL that reached a query failed it
with a driver error, an INTERNAL answer and a log line full of parameters. The only other
characters it refuses are unpaired surrogates, which cannot reach us: protobuf refuses a
string that is not valid UTF-8 while parsing it. So every string of every request, nested
messages, repeated fields and map keys and values included, is checked for NUL here,
before any handler runs.

What to look at in a message type is worked out once per type (``_plan``): only string
fields and message fields from which a string can be reached, so a request without text
costs one dict lookup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from keel_runtime.errors import FieldViolation

RULE = "string.no_nul"
DESCRIPTION = "must not contain the NUL character (U+0000)"
_NUL = "\x00"

_STRING = FieldDescriptor.TYPE_STRING


@dataclass(frozen=True, slots=True)
class _Step:
    """One field of a message type worth looking at, and how."""

    name: str
    repeated: bool
    text: bool
    """The field (for a map: the value) is a string."""
    message: bool
    """The field (for a map: the value) is a message from which a string can be reached."""
    is_map: bool = False
    text_key: bool = False
    """A map whose keys are strings."""


_plans: dict[str, tuple[_Step, ...]] = {}
"""Message full name -> its steps; empty when no string can be reached from the type."""


def text_violations(message: Any) -> list[FieldViolation]:
    """A violation per string in ``message`` (at any depth) that holds a NUL character."""
    found: list[FieldViolation] = []
    descriptor = getattr(message, "DESCRIPTOR", None)
    if isinstance(descriptor, Descriptor) and _plan(descriptor):
        _walk(message, "", found)
    return found


def _walk(message: Any, prefix: str, found: list[FieldViolation]) -> None:
    for step in _plan(message.DESCRIPTOR):
        path = prefix + step.name
        value = getattr(message, step.name)
        if step.is_map:
            for key, item in value.items():
                item_path = f"{path}[{_render_key(key)}]"
                if step.text_key and _NUL in key:
                    found.append(FieldViolation(item_path, f"key {DESCRIPTION}", RULE))
                if step.text and _NUL in item:
                    found.append(FieldViolation(item_path, DESCRIPTION, RULE))
                elif step.message:
                    _walk(item, item_path + ".", found)
        elif step.repeated:
            for index, item in enumerate(value):
                if step.text:
                    if _NUL in item:
                        found.append(FieldViolation(f"{path}[{index}]", DESCRIPTION, RULE))
                else:
                    _walk(item, f"{path}[{index}].", found)
        elif step.text:
            if _NUL in value:
                found.append(FieldViolation(path, DESCRIPTION, RULE))
        elif message.HasField(step.name):  # an unset message holds nothing
            _walk(value, path + ".", found)


def _render_key(key: object) -> str:
    """A map key as protovalidate writes it in paths: ``"env"``, ``7``, ``true``.

    String keys are JSON-quoted, so a NUL in a key shows as ``\\u0000``.
    """
    if isinstance(key, str):
        return json.dumps(key)
    if isinstance(key, bool):
        return str(key).lower()
    return str(key)


def _plan(descriptor: Descriptor) -> tuple[_Step, ...]:
    plan = _plans.get(descriptor.full_name)
    if plan is None:
        plan = _plans[descriptor.full_name] = _build_plan(descriptor)
    return plan


def _build_plan(descriptor: Descriptor) -> tuple[_Step, ...]:
    steps: list[_Step] = []
    for field in descriptor.fields:
        repeated = field.is_repeated
        nested = field.message_type
        if nested is not None and nested.GetOptions().map_entry:
            key, value = nested.fields_by_name["key"], nested.fields_by_name["value"]
            step = _Step(
                field.name,
                repeated=True,
                text=value.type == _STRING,
                message=value.message_type is not None and _reaches_text(value.message_type),
                is_map=True,
                text_key=key.type == _STRING,
            )
            if step.text or step.message or step.text_key:
                steps.append(step)
        elif field.type == _STRING:
            steps.append(_Step(field.name, repeated=repeated, text=True, message=False))
        elif nested is not None and _reaches_text(nested):
            steps.append(_Step(field.name, repeated=repeated, text=False, message=True))
    return tuple(steps)


def _reaches_text(root: Descriptor) -> bool:
    """Whether a string field can be found in ``root`` or any message type reachable from it.

    Each type is visited once, which also ends recursive types (e.g. ``google.protobuf.Value``).
    """
    known = _plans.get(root.full_name)
    if known is not None:
        return bool(known)
    seen = {root.full_name}
    pending = [root]
    while pending:
        descriptor = pending.pop()
        for field in descriptor.fields:
            if field.type == _STRING:
                return True
            nested = field.message_type
            if nested is not None and nested.full_name not in seen:
                seen.add(nested.full_name)
                pending.append(nested)
    return False
