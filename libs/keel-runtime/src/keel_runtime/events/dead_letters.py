"""Dead letters: read the ``DLQ`` stream without consuming it, and redeliver its entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from keel_runtime.events.envelope import Envelope, EnvelopeError, decode
from keel_runtime.events.failures import (
    HEADER_DLQ_CONSUMER,
    HEADER_DLQ_DELIVERIES,
    HEADER_DLQ_ERROR,
    HEADER_DLQ_ERROR_CLASS,
    HEADER_DLQ_FAILED_ATTEMPTS,
    HEADER_DLQ_STREAM,
    HEADER_DLQ_SUBJECT,
    HEADER_REDRIVES,
)
from keel_runtime.events.outbox import HEADER_MSG_ID
from keel_runtime.events.streams import DEAD_LETTER_STREAM

DEAD_LETTER_PREFIX = "dlq."
"""Dead-letter subjects are ``dlq.<consumer>``."""

_DLQ_HEADERS = frozenset(
    h.lower()
    for h in (
        HEADER_DLQ_ERROR,
        HEADER_DLQ_ERROR_CLASS,
        HEADER_DLQ_CONSUMER,
        HEADER_DLQ_STREAM,
        HEADER_DLQ_SUBJECT,
        HEADER_DLQ_DELIVERIES,
        HEADER_DLQ_FAILED_ATTEMPTS,
    )
)


class DeadLetterError(Exception):
    """A dead letter that cannot be read or redelivered; the message says which and why."""


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter stream, as the consumer that gave up on it wrote it."""

    seq: int
    """Sequence in the dead-letter stream; what ``redeliver`` and the deletion address."""
    dlq_subject: str
    time: datetime | None
    headers: Mapping[str, str]
    data: bytes
    envelope: Envelope | None
    """None when the bytes are not a usable envelope (why it was dead-lettered, then)."""

    @classmethod
    def from_raw(cls, raw: RawStreamMsg) -> DeadLetter:
        data = raw.data or b""
        try:
            envelope: Envelope | None = decode(data)
        except EnvelopeError:
            envelope = None
        return cls(
            seq=raw.seq or 0,
            dlq_subject=raw.subject or "",
            time=raw.time,
            headers=dict(raw.headers or {}),
            data=data,
            envelope=envelope,
        )

    def _header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    @property
    def consumer(self) -> str:
        return self._header(HEADER_DLQ_CONSUMER) or self.dlq_subject.removeprefix(
            DEAD_LETTER_PREFIX
        )

    @property
    def original_subject(self) -> str | None:
        """Where the event was consumed from; else its type, which is its subject by contract."""
        if subject := self._header(HEADER_DLQ_SUBJECT):
            return subject
        return self.envelope.type if self.envelope is not None else None

    @property
    def original_stream(self) -> str | None:
        return self._header(HEADER_DLQ_STREAM)

    @property
    def error(self) -> str:
        return self._header(HEADER_DLQ_ERROR) or ""

    @property
    def error_class(self) -> str | None:
        """``dependency``, ``handler``, ``crash`` or ``undecodable``; None from older versions."""
        return self._header(HEADER_DLQ_ERROR_CLASS)

    @property
    def redrives(self) -> int:
        """Times the redrive policy has sent this event back already."""
        value = self._header(HEADER_REDRIVES)
        return int(value) if value and value.isdigit() else 0

    @property
    def deliveries(self) -> int | None:
        value = self._header(HEADER_DLQ_DELIVERIES)
        return int(value) if value and value.isdigit() else None

    def redelivery_id(self) -> str:
        """A ``Nats-Msg-Id`` the target stream has not seen for this event.

        Fixed per dead letter, so a redelivery retried after its PubAck (the deletion failed)
        is dropped by the duplicate window instead of published twice.
        """
        event = self.envelope.id if self.envelope is not None else self._header(HEADER_MSG_ID)
        return f"{event or 'event'}:redelivery:{self.seq}"

    def redelivery_headers(self, *, redrives: int | None = None) -> dict[str, str]:
        """The original headers, without the dead-letter ones and with a new message id.

        ``redrives`` (the redrive policy's count) replaces the event's count when given.
        """
        headers = {
            key: value
            for key, value in self.headers.items()
            # ``Nats-*`` headers steer the broker (message id, expectations, stream
            # metadata of a direct get); none of them belongs to the republished event.
            if key.lower() not in _DLQ_HEADERS and not key.lower().startswith("nats-")
        }
        headers[HEADER_MSG_ID] = self.redelivery_id()
        if redrives is not None:
            headers[HEADER_REDRIVES] = str(redrives)
        return headers


def dead_letter_subject(consumer: str | None) -> str:
    """The subject filter for one consumer's dead letters, or all of them."""
    return f"{DEAD_LETTER_PREFIX}{consumer}" if consumer else f"{DEAD_LETTER_PREFIX}>"


async def _stream_bounds(js: JetStreamContext, stream: str) -> tuple[int, int]:
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        raise DeadLetterError(
            f"stream {stream} not found: no consumer has dead-lettered on this server"
        ) from None
    return info.state.first_seq, info.state.last_seq


async def list_dead_letters(
    js: JetStreamContext,
    *,
    consumer: str | None = None,
    limit: int | None = None,
    stream: str = DEAD_LETTER_STREAM.name,
) -> list[DeadLetter]:
    """Dead letters oldest first, read by sequence: nothing is consumed, acked or removed."""
    first, last = await _stream_bounds(js, stream)
    subject = dead_letter_subject(consumer)
    letters: list[DeadLetter] = []
    seq = max(first, 1)
    # Bounded by the last sequence seen at the start: entries arriving meanwhile (e.g. a
    # redelivered event failing again) wait for the next run instead of extending this one.
    while seq <= last and (limit is None or len(letters) < limit):
        try:
            raw = await js.get_msg(stream, seq=seq, subject=subject, next=True)
        except NotFoundError:
            break
        if raw.seq is None or raw.seq > last:
            break
        letters.append(DeadLetter.from_raw(raw))
        seq = raw.seq + 1
    return letters


async def get_dead_letter(
    js: JetStreamContext, seq: int, *, stream: str = DEAD_LETTER_STREAM.name
) -> DeadLetter:
    """The dead letter at ``seq``; DeadLetterError if there is none."""
    try:
        raw = await js.get_msg(stream, seq=seq)
    except NotFoundError:
        raise DeadLetterError(f"no message with sequence {seq} in stream {stream}") from None
    letter = DeadLetter.from_raw(raw)
    if not letter.dlq_subject.startswith(DEAD_LETTER_PREFIX):
        raise DeadLetterError(f"message {seq} of stream {stream} is not a dead letter")
    return letter


def subject_of(letter: DeadLetter) -> str:
    """Where ``letter`` would be redelivered; DeadLetterError if that is unknown."""
    if not letter.original_subject:
        raise DeadLetterError(
            f"dead letter {letter.seq}: original subject unknown "
            f"(no {HEADER_DLQ_SUBJECT} header and no usable envelope)"
        )
    return letter.original_subject


@dataclass(frozen=True)
class Redelivery:
    letter: DeadLetter
    subject: str
    stream: str
    """The stream that acknowledged the republished event."""
    seq: int
    duplicate: bool
    """True when an earlier attempt of this redelivery had already been acknowledged."""


async def redeliver(
    js: JetStreamContext,
    letter: DeadLetter,
    *,
    stream: str = DEAD_LETTER_STREAM.name,
    redrives: int | None = None,
) -> Redelivery:
    """Republish the original bytes to the original subject, then delete the dead letter.

    ``redrives``: the redrive policy's count to carry (operators' redeliveries keep it).

    The deletion follows the PubAck only, so a failure leaves the dead letter in place. The
    consumers' inbox makes the event a no-op for those that handled it already.
    """
    subject = subject_of(letter)
    try:
        # Expecting the recorded stream makes the broker refuse a subject now captured
        # elsewhere rather than feed the event to the wrong consumers.
        ack = await js.publish(
            subject,
            letter.data,
            stream=letter.original_stream,
            headers=letter.redelivery_headers(redrives=redrives),
        )
    except Exception as exc:
        raise DeadLetterError(
            f"dead letter {letter.seq}: publish to {subject} failed: {exc!r}"
        ) from exc
    try:
        await js.delete_msg(stream, letter.seq)
    except NotFoundError:
        pass  # Deleted meanwhile by another run: the outcome wanted.
    except Exception as exc:
        raise DeadLetterError(
            f"dead letter {letter.seq}: republished to {subject} "
            f"({ack.stream} #{ack.seq}) but not deleted from {stream}: {exc!r}"
        ) from exc
    return Redelivery(
        letter=letter,
        subject=subject,
        stream=ack.stream,
        seq=ack.seq,
        duplicate=bool(ack.duplicate),
    )
