"""Durable JetStream pull consumer whose handler runs in one transaction with its inbox row."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime import context
from keel_runtime.events.envelope import Envelope, EnvelopeError, decode
from keel_runtime.events.outbox import HEADER_MSG_ID
from keel_runtime.events.streams import DEAD_LETTER_STREAM, StreamSpec, ensure_stream
from keel_runtime.events.tables import INBOX
from keel_runtime.metrics import NO_METRICS, Metrics

log = logging.getLogger(__name__)

Handler = Callable[[AsyncConnection, Envelope], Awaitable[None]]

# Headers added to a dead-lettered message (the original headers are kept).
HEADER_DLQ_ERROR = "Keel-Dlq-Error"
HEADER_DLQ_CONSUMER = "Keel-Dlq-Consumer"
HEADER_DLQ_STREAM = "Keel-Dlq-Stream"
HEADER_DLQ_SUBJECT = "Keel-Dlq-Subject"
HEADER_DLQ_DELIVERIES = "Keel-Dlq-Deliveries"


@dataclass
class Subscription:
    consumer: str
    """Durable consumer name; also the inbox's ``consumer`` column."""
    stream: str
    filter_subject: str
    handler: Handler
    """Runs in the same transaction as the inbox row; raise to have the event retried."""
    max_deliver: int = 5
    """Deliveries before the event is dead-lettered."""
    backoff_s: Sequence[float] = (1, 5, 30)
    """Delay before the n-th redelivery (the last value repeats)."""
    dead_letter_subject: str | None = None
    """Defaults to ``dlq.<consumer>`` (captured by the ``DLQ`` stream)."""
    ack_wait_s: float = 30.0
    """Redelivery after this long without an ack (a crashed or stuck consumer)."""
    batch: int = 16
    """Messages per fetch."""

    def __post_init__(self) -> None:
        if self.max_deliver < 1:
            raise ValueError("max_deliver must be >= 1")
        if not self.backoff_s:
            raise ValueError("backoff_s needs at least one delay")
        if self.dead_letter_subject is None:
            self.dead_letter_subject = f"dlq.{self.consumer}"

    def retry_delay(self, deliveries: int) -> float:
        """Delay before redelivering after the ``deliveries``-th attempt failed."""
        return float(self.backoff_s[min(deliveries, len(self.backoff_s)) - 1])

    def consumer_config(self) -> ConsumerConfig:
        # The server's backoff list paces redeliveries after a missed ack; it replaces
        # ack_wait, so keep each step >= ack_wait: a slow handler must not run twice at once.
        backoff = [max(self.ack_wait_s, float(b)) for b in self.backoff_s]
        return ConsumerConfig(
            durable_name=self.consumer,
            filter_subject=self.filter_subject,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=self.max_deliver,
            # The server requires max_deliver > len(backoff).
            backoff=backoff[: self.max_deliver - 1] or None,
        )


def _header_value(text: str, limit: int = 512) -> str:
    # Header values cannot carry line breaks.
    return " ".join(text.split())[:limit]


class Consumer:
    """Background task consuming one subscription until cancelled."""

    def __init__(
        self,
        engine: AsyncEngine,
        js: JetStreamContext,
        subscription: Subscription,
        *,
        fetch_timeout: float = 1.0,
        dead_letter_stream: StreamSpec = DEAD_LETTER_STREAM,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self.engine = engine
        self.js = js
        self.subscription = subscription
        self.fetch_timeout = fetch_timeout
        # Declared by every consumer, so it carries the service's replicas too.
        self.dead_letter_stream = dead_letter_stream
        self.outcomes = metrics.consumer(subscription.consumer)

    async def ensure(self) -> None:
        """Create the durable consumer (and the dead-letter stream) if missing."""
        sub = self.subscription
        await ensure_stream(self.js, self.dead_letter_stream)
        try:
            await self.js.consumer_info(sub.stream, sub.consumer)
            return
        except NotFoundError:
            pass
        await self.js.add_consumer(sub.stream, config=sub.consumer_config())

    async def run(self) -> None:
        """Fetch, handle, ack; until cancelled."""
        sub = self.subscription
        await self.ensure()
        pull = await self.js.pull_subscribe_bind(durable=sub.consumer, stream=sub.stream)
        try:
            while True:
                try:
                    msgs = await pull.fetch(sub.batch, timeout=self.fetch_timeout)
                except (nats.errors.TimeoutError, TimeoutError):  # idle: nothing to fetch
                    continue
                except Exception as exc:
                    # Server restarts, reconnects, a deleted consumer: pause, repair, go on.
                    log.warning("consumer %s: fetch failed: %r", sub.consumer, exc)
                    await asyncio.sleep(1.0)
                    await self._try_ensure()
                    continue
                for index, msg in enumerate(msgs):
                    try:
                        await self.handle(msg)
                    except asyncio.CancelledError:
                        await self._release(msgs[index:])
                        raise
                    except Exception:
                        # E.g. the ack could not be sent: the server redelivers, the inbox
                        # turns that into a no-op. The loop itself must keep running.
                        log.exception("consumer %s: delivery not settled", sub.consumer)
        finally:
            try:
                await pull.unsubscribe()
            except Exception:
                log.debug("consumer %s: unsubscribe failed", sub.consumer, exc_info=True)

    async def _try_ensure(self) -> None:
        try:
            await self.ensure()
        except Exception as exc:
            log.warning("consumer %s: cannot ensure consumer: %r", self.subscription.consumer, exc)

    async def _release(self, msgs: Sequence[Msg]) -> None:
        # On shutdown, hand unprocessed messages back now instead of after ack_wait.
        for msg in msgs:
            try:
                await msg.nak()
            except Exception:
                log.debug("nak on shutdown failed", exc_info=True)

    async def handle(self, msg: Msg) -> None:
        """Process one delivery: inbox row + handler in one transaction, then ack."""
        sub = self.subscription
        try:
            envelope = decode(msg.data)
        except EnvelopeError as exc:
            log.error("consumer %s: dead-lettering undecodable message: %s", sub.consumer, exc)
            await self._dead_letter(msg, str(exc))
            return
        try:
            async with self.engine.begin() as conn:
                first = await conn.execute(
                    insert(INBOX)
                    .values(consumer=sub.consumer, event_id=uuid.UUID(envelope.id))
                    .on_conflict_do_nothing()
                    .returning(INBOX.c.event_id)
                )
                handled = first.first() is not None
                if handled:
                    # The handler continues the causing request: its logs and the events it
                    # publishes carry the same request id and trace.
                    with context.bound(
                        request_id=context.accept_request_id(envelope.request_id),
                        traceparent=context.child_traceparent(envelope.traceparent),
                    ):
                        await sub.handler(conn, envelope)
        except Exception as exc:
            self.outcomes.failed.inc()
            await self._failed(msg, envelope, exc)
            return
        (self.outcomes.handled if handled else self.outcomes.duplicate).inc()
        await msg.ack()

    async def _failed(self, msg: Msg, envelope: Envelope, exc: Exception) -> None:
        sub = self.subscription
        deliveries = msg.metadata.num_delivered or 1
        if deliveries >= sub.max_deliver:
            log.error(
                "consumer %s: event %s (%s) failed on delivery %d of %d; dead-lettering",
                sub.consumer,
                envelope.id,
                envelope.type,
                deliveries,
                sub.max_deliver,
                exc_info=exc,
            )
            await self._dead_letter(msg, f"{type(exc).__name__}: {exc}")
            return
        delay = sub.retry_delay(deliveries)
        log.warning(
            "consumer %s: event %s (%s) failed on delivery %d of %d, retrying in %.1fs: %r",
            sub.consumer,
            envelope.id,
            envelope.type,
            deliveries,
            sub.max_deliver,
            delay,
            exc,
        )
        await msg.nak(delay=delay)

    async def _dead_letter(self, msg: Msg, error: str) -> None:
        """Copy the message (headers kept, error added) to the dead-letter subject, then term."""
        sub = self.subscription
        assert sub.dead_letter_subject is not None
        meta = msg.metadata
        headers = dict(msg.headers or {})
        original_id = headers.get(HEADER_MSG_ID) or f"{meta.stream}:{meta.sequence.stream}"
        headers.update(
            {
                # A retried dead-lettering of the same delivery stays one DLQ message.
                HEADER_MSG_ID: f"{sub.consumer}:{original_id}",
                HEADER_DLQ_ERROR: _header_value(error),
                HEADER_DLQ_CONSUMER: sub.consumer,
                HEADER_DLQ_STREAM: meta.stream,
                HEADER_DLQ_SUBJECT: msg.subject,
                HEADER_DLQ_DELIVERIES: str(meta.num_delivered),
            }
        )
        for attempt in range(3):
            try:
                await self.js.publish(sub.dead_letter_subject, msg.data, headers=headers)
                break
            except Exception:
                log.exception(
                    "consumer %s: dead-letter publish failed (attempt %d)", sub.consumer, attempt
                )
                await asyncio.sleep(0.5 * 2**attempt)
        else:
            # Leave it unacknowledged: the server redelivers it while deliveries remain.
            await msg.nak(delay=sub.retry_delay(meta.num_delivered or 1))
            return
        self.outcomes.dead_lettered.inc()
        await msg.term()
