"""``google.protobuf.Timestamp`` <-> aware ``datetime``, the one conversion every service uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp


@overload
def timestamp(value: datetime) -> Timestamp: ...
@overload
def timestamp(value: None) -> None: ...
def timestamp(value: datetime | None) -> Timestamp | None:
    """The message for an aware datetime (any zone; stored as UTC); None stays unset."""
    if value is None:
        return None
    message = Timestamp()
    message.FromDatetime(value)
    return message


def from_timestamp(message: Timestamp) -> datetime:
    """The aware UTC datetime of ``message``."""
    return message.ToDatetime(tzinfo=UTC)


def field_time(message: Message, field: str) -> datetime | None:
    """``message.<field>`` as an aware UTC datetime, or None when the field is not set."""
    if not message.HasField(field):
        return None
    value: Timestamp = getattr(message, field)
    return from_timestamp(value)
