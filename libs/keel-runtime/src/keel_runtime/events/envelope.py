"""Event envelope helpers: build one from a payload, decode one, unpack its payload."""

from __future__ import annotations

import uuid
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from keel.events.v1.envelope_pb2 import Envelope

from keel_runtime import context
from keel_runtime.ids import new_id

M = TypeVar("M", bound=Message)

__all__ = ["Envelope", "EnvelopeError", "decode", "new_event", "unpack"]


class EnvelopeError(ValueError):
    """Bytes that are not a usable envelope (undecodable, or without a UUID id)."""


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
        id=event_id or new_id(),
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
