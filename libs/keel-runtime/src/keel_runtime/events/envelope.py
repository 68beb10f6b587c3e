"""Event envelope helpers: build one from a payload, decode one, unpack its payload."""

from __future__ import annotations

import os
import time
import uuid
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from keel.events.v1.envelope_pb2 import Envelope

from keel_runtime import context

M = TypeVar("M", bound=Message)

__all__ = ["Envelope", "EnvelopeError", "decode", "new_event", "unpack", "uuid7"]


class EnvelopeError(ValueError):
    """Bytes that are not a usable envelope (undecodable, or without a UUID id)."""


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): keeps the outbox primary key index compact."""
    millis = time.time_ns() // 1_000_000
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def new_event(
    *,
    type: str,
    source: str,
    subject: str,
    org_id: str,
    payload: Message,
    event_id: str | None = None,
) -> Envelope:
    """Wrap ``payload`` in an envelope.

    ``type`` is ``<service>.<aggregate>.<event>`` and is also the NATS subject; ``subject`` is
    the aggregate id. Request id and traceparent come from the current call context.
    """
    envelope = Envelope(
        id=event_id or str(uuid7()),
        type=type,
        source=source,
        subject=subject,
        org_id=org_id,
        request_id=context.current_request_id(),
        traceparent=context.current_traceparent() or "",
    )
    envelope.occurred_at.GetCurrentTime()
    envelope.payload.Pack(payload)
    return envelope


def decode(data: bytes) -> Envelope:
    """Parse envelope bytes; raises EnvelopeError when they cannot be handled."""
    envelope = Envelope()
    try:
        envelope.ParseFromString(data)
    except DecodeError as exc:
        raise EnvelopeError(f"undecodable envelope: {exc}") from exc
    try:
        uuid.UUID(envelope.id)
    except ValueError as exc:
        raise EnvelopeError(f"envelope id {envelope.id!r} is not a UUID") from exc
    if not envelope.type:
        raise EnvelopeError("envelope has no type")
    return envelope


def unpack(envelope: Envelope, message_cls: type[M]) -> M:
    """The envelope's payload as ``message_cls``; TypeError if it holds another type."""
    message = message_cls()
    if not envelope.payload.Unpack(message):
        raise TypeError(
            f"event {envelope.id} carries {envelope.payload.TypeName()!r}, "
            f"not {message_cls.DESCRIPTOR.full_name!r}"
        )
    return message
