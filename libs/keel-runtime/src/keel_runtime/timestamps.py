"""``google.protobuf.Timestamp`` <-> aware ``datetime``, the one conversion every service uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from keel_runtime.errors import FieldViolation, ValidationFailed

OUT_OF_RANGE = "must be a time from 0001-01-01 to 9999-12-31, nanos 0 to 999,999,999"


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


def field_time(message: Message, field: str, *, path: str = "") -> datetime | None:
    """``message.<field>`` as an aware UTC datetime, or None when the field is not set.

    Seconds or nanos outside the Timestamp range (years 1 to 9999) are the caller's error,
    ``ValidationFailed`` naming the field (``path``, for a field of a nested message): the
    gateway's RFC 3339 parsing never lets them through, but a peer calling over gRPC can.
    """
    if not message.HasField(field):
        return None
    value: Timestamp = getattr(message, field)
    try:
        return from_timestamp(value)
    except ValueError:
        raise ValidationFailed(
            [FieldViolation(path or field, OUT_OF_RANGE, rule="timestamp.valid")]
        ) from None
