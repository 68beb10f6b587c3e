"""Durable JetStream pull consumer whose handler runs in one transaction with its inbox row."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry.trace import Span
from psycopg import sql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime import context
from keel_runtime.events.attempts import AttemptLog, Attempts
from keel_runtime.events.envelope import Envelope, EnvelopeError, decode
from keel_runtime.events.failures import (
    CRASH,
    HEADER_DLQ_CONSUMER,
    HEADER_DLQ_DELIVERIES,
    HEADER_DLQ_ERROR,
    HEADER_DLQ_ERROR_CLASS,
    HEADER_DLQ_FAILED_ATTEMPTS,
    HEADER_DLQ_STREAM,
    HEADER_DLQ_SUBJECT,
    UNDECODABLE,
    RedrivePolicy,
    error_class,
)
from keel_runtime.events.outbox import HEADER_MSG_ID, HEADER_TRACEPARENT
from keel_runtime.events.redrive import Redriver
from keel_runtime.events.streams import DEAD_LETTER_STREAM, StreamSpec, ensure_stream
from keel_runtime.events.tables import INBOX
from keel_runtime.events.transient import is_transient
from keel_runtime.metrics import NO_METRICS, NULL, Metrics
from keel_runtime.tenancy import driver_connection, set_tenant, set_tenant_statement
from keel_runtime.tracing import spans as tracing

log = logging.getLogger(__name__)

STREAM_WAIT_S = 0.5
"""How often a consumer looks for a stream its producer has not declared yet."""

Handler = Callable[[AsyncConnection, Envelope], Awaitable[None]]


@dataclass
class Subscription:
    consumer: str
    """Durable consumer name; also the inbox's ``consumer`` column."""
    stream: str
    filter_subject: str
    handler: Handler
    """Runs in the same transaction as the inbox row; raise to have the event retried."""
    max_deliver: int = 5
    """Failed attempts (the handler raised, or the process died while it ran) before the
    event is dead-lettered. Transient failures (a dependency away) do not count."""
    backoff_s: Sequence[float] = (1, 5, 30)
    """Delay before the n-th redelivery (the last value repeats)."""
    dead_letter_subject: str | None = None
    """Defaults to ``dlq.<consumer>`` (captured by the ``DLQ`` stream)."""
    ack_wait_s: float = 5.0
    """Redelivery after this long without an ack or heartbeat: how soon the events of a
    crashed consumer come back. Longer handlers are fine, the consumer sends heartbeats."""
    batch: int = 16
    """Messages per fetch."""
    transient_backoff_s: Sequence[float] = (0.5, 1, 2, 5, 10, 30)
    """Pause between retries of a transient failure (the last value repeats, for as long as
    the dependency stays away)."""
    redrive: RedrivePolicy | None = field(default_factory=RedrivePolicy)
    """Which dead letters of this consumer go back by themselves once dependencies answer.
    The default redrives only those a dependency outage caused; None turns it off."""
    filter_subjects: Sequence[str] = ()
    """More subjects besides ``filter_subject``: the broker delivers none of the others,
    where a wider filter would cost the consumer an inbox row for each event it ignores."""

    def __post_init__(self) -> None:
        if self.max_deliver < 1:
            raise ValueError("max_deliver must be >= 1")
        if not self.backoff_s or not self.transient_backoff_s:
            raise ValueError("backoff_s and transient_backoff_s need at least one delay")
        if self.dead_letter_subject is None:
            self.dead_letter_subject = f"dlq.{self.consumer}"

    def retry_delay(self, failures: int) -> float:
        """Delay before redelivering after the ``failures``-th failed attempt."""
        return float(self.backoff_s[min(failures, len(self.backoff_s)) - 1])

    def transient_delay(self, retries: int) -> float:
        """Pause before the next try after ``retries`` transient failures in a row (>= 1)."""
        delays = self.transient_backoff_s
        return float(delays[min(retries, len(delays)) - 1])

    @property
    def heartbeat_s(self) -> float:
        """How often messages in hand are reported in progress: well inside ack_wait."""
        return self.ack_wait_s / 3

    @property
    def subjects(self) -> list[str]:
        """Every subject the consumer takes."""
        return [self.filter_subject, *self.filter_subjects]

    def consumer_config(self) -> ConsumerConfig:
        # The broker counts deliveries, including those that never reached the handler (the
        # rest of a batch fetched by a process that then died), so its max_deliver cannot
        # tell a poison event from its neighbours, and at the limit it drops the event
        # without a word. Deliveries are unlimited there; the consumer keeps the budget of
        # failed attempts itself (AttemptLog) and dead-letters at the limit. No server
        # backoff either: after a missed ack the event comes back after ack_wait, while
        # failed attempts are paced by the consumer's NAK delays.
        subjects = self.subjects
        return ConsumerConfig(
            durable_name=self.consumer,
            # The server takes one form or the other, not both.
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=-1,
        )


@dataclass(frozen=True)
class _Attempt:
    """The attempt in hand: failed attempts before it, and whether it is recorded already."""

    failed_before: int
    recorded: Attempts | None
    """What this attempt wrote to the log before the handler ran (None: nothing)."""
    previous: Attempts | None
    """What the log held before this attempt."""


@dataclass
class _Together:
    """One event of a shared transaction: what its savepoint gave, until it is settled."""

    msg: Msg
    envelope: Envelope
    span: Span | None = None
    traceparent: str | None = None
    request_id: str | None = None
    handled: bool = False
    """The handler ran (False with no error: a duplicate)."""
    error: Exception | None = None
    """What the handler raised; its savepoint was rolled back."""


_EVENT_SAVEPOINT = sql.Identifier("keel_event")
_OPEN_EVENT = sql.SQL(
    "SAVEPOINT {savepoint}; {tenant}; "
    "INSERT INTO {inbox} (consumer, event_id) VALUES ({consumer}, {event_id}) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
_ROLLBACK_EVENT = sql.SQL("ROLLBACK TO SAVEPOINT {}").format(_EVENT_SAVEPOINT)


def _end_spans(
    events: Sequence[_Together], outcome: str, error: BaseException | None = None
) -> None:
    for event in events:
        tracing.end_consume(event.span, outcome, error)
        event.span = None


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
        backlog_interval_s: float = 15.0,
    ) -> None:
        self.engine = engine
        self.js = js
        self.subscription = subscription
        self.fetch_timeout = fetch_timeout
        # Declared by every consumer, so it carries the service's replicas too.
        self.dead_letter_stream = dead_letter_stream
        self.attempts = AttemptLog(js, replicas=dead_letter_stream.replicas)
        self.outcomes = metrics.consumer(subscription.consumer)
        self.metrics = metrics
        self.waiting_out_dependency = False
        """True while a delivery is retried in place because a dependency is away."""
        self.backlog_interval_s = backlog_interval_s
        """How often the consumer's backlog gauges are read from the server (metrics on)."""

    async def ensure(self) -> None:
        """Create the durable consumer (and the dead-letter stream) if missing, or update it."""
        sub = self.subscription
        await ensure_stream(self.js, self.dead_letter_stream)
        await self.attempts.ensure()
        wanted = sub.consumer_config()
        try:
            have = (await self.js.consumer_info(sub.stream, sub.consumer)).config
        except NotFoundError:
            await self.js.add_consumer(sub.stream, config=wanted)
            return
        if (
            have.max_deliver != wanted.max_deliver
            or abs((have.ack_wait or 0) - (wanted.ack_wait or 0)) > 1e-3
            or have.backoff
            or _filters(have) != set(sub.subjects)
        ):
            # Consumers made by earlier versions let the broker drop events at max_deliver.
            log.info("consumer %s: updating its configuration", sub.consumer)
            await self.js.add_consumer(sub.stream, config=wanted)

    async def await_stream(self) -> None:
        """Wait until the subscribed stream exists: its producer declares it, no consumer does
        (two declarations could disagree, and the last would win)."""
        sub = self.subscription
        waiting = False
        while True:
            try:
                await self.js.stream_info(sub.stream)
                return
            except NotFoundError:
                if not waiting:
                    log.info(
                        "consumer %s: waiting for stream %s, declared by its producer",
                        sub.consumer,
                        sub.stream,
                    )
                    waiting = True
                await asyncio.sleep(STREAM_WAIT_S)

    async def run(self) -> None:
        """Fetch, handle, ack; until cancelled."""
        sub = self.subscription
        await self.await_stream()
        await self.ensure()
        pull = await self.js.pull_subscribe_bind(durable=sub.consumer, stream=sub.stream)
        redriving = self._start_redriver()
        sampling = self._start_backlog_sampler()
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
                await self._handle_batch(msgs)
        finally:
            if redriving is not None:
                redriving.cancel()
            if sampling is not None:
                sampling.cancel()
            try:
                await pull.unsubscribe()
            except Exception:
                log.debug("consumer %s: unsubscribe failed", sub.consumer, exc_info=True)

    def _start_redriver(self) -> asyncio.Task[None] | None:
        policy = self.subscription.redrive
        if policy is None:
            return None
        redriver = Redriver(
            self.js,
            self.subscription.consumer,
            policy,
            engine=self.engine,
            dependency_away=lambda: self.waiting_out_dependency,
            dead_letter_stream=self.dead_letter_stream.name,
            metrics=self.metrics,
        )
        return asyncio.create_task(redriver.run(), name=f"redrive-{self.subscription.consumer}")

    def _start_backlog_sampler(self) -> asyncio.Task[None] | None:
        if self.outcomes.pending is NULL:
            return None  # metrics off
        return asyncio.create_task(
            self._sample_backlog(), name=f"backlog-{self.subscription.consumer}"
        )

    async def _sample_backlog(self) -> None:
        """In a task of its own, so that a handler stuck on one event does not freeze the
        figures that would show it."""
        while True:
            await self.sample_backlog()
            await asyncio.sleep(self.backlog_interval_s)

    async def sample_backlog(self) -> None:
        """Set the backlog gauges from the server's count of this consumer's messages."""
        sub = self.subscription
        try:
            info = await self.js.consumer_info(sub.stream, sub.consumer)
        except Exception as exc:
            log.debug("consumer %s: backlog not sampled: %r", sub.consumer, exc)
            return
        self.outcomes.pending.set(info.num_pending or 0)
        self.outcomes.ack_pending.set(info.num_ack_pending or 0)

    async def _handle_batch(self, msgs: list[Msg]) -> None:
        unsettled = list(msgs)
        # Every message in hand stays ours while earlier ones (or a long handler) take time.
        heartbeat = asyncio.create_task(self._heartbeat(unsettled))
        # Messages left to handle each in a transaction of its own (a shared one failed).
        one_by_one = 0
        try:
            while unsettled:
                try:
                    together = [] if one_by_one else self._first_deliveries(unsettled)
                    if len(together) > 1:
                        if await self._handle_together(together):
                            del unsettled[: len(together)]
                            continue
                        one_by_one = len(together)
                    await self.handle(unsettled[0])
                    await self._delivered(unsettled[0])
                except asyncio.CancelledError:
                    await self._release(unsettled)
                    raise
                except Exception:
                    # E.g. the ack could not be sent: the server redelivers, the inbox
                    # turns that into a no-op. The loop itself must keep running.
                    log.exception("consumer %s: delivery not settled", self.subscription.consumer)
                unsettled.pop(0)
                one_by_one = max(0, one_by_one - 1)
        finally:
            heartbeat.cancel()

    async def _delivered(self, msg: Msg) -> None:
        """Called once a delivery is settled (acknowledged, retried or dead-lettered)."""

    @staticmethod
    def _first_deliveries(msgs: Sequence[Msg]) -> list[tuple[Msg, Envelope]]:
        """The leading messages that can share a transaction: first deliveries that decode.

        A redelivery keeps the one-by-one path, where its attempt is recorded before the
        handler runs; an undecodable message is dead-lettered there. Stopping at the first
        of either keeps the order of delivery.
        """
        run: list[tuple[Msg, Envelope]] = []
        for msg in msgs:
            if (msg.metadata.num_delivered or 1) != 1:
                break
            try:
                run.append((msg, decode(msg.data)))
            except EnvelopeError:
                break
        return run

    async def _handle_together(self, run: list[tuple[Msg, Envelope]]) -> bool:
        """Handle first deliveries in one transaction, each event in a savepoint of its own.

        An event whose handler raises is rolled back to its savepoint and takes the failure
        path after the commit (attempt counted, retried later, dead-lettered at the limit),
        while the others commit; every message is acknowledged only after the commit, so a
        crash before it redelivers them all and the inbox makes the repeats no-ops.

        False when the transaction itself failed (a dependency away, the commit refused):
        nothing was settled, and the caller handles the messages one by one, where transient
        failures are retried in place without counting.
        """
        sub = self.subscription
        events = [_Together(msg, envelope) for msg, envelope in run]
        try:
            async with self.engine.begin() as conn:
                for event in events:
                    await self._apply_nested(conn, event)
        except asyncio.CancelledError:
            _end_spans(events, "released")
            raise
        except Exception as exc:
            _end_spans(events, "retried", exc)
            log.warning(
                "consumer %s: %d events in one transaction failed, handling them one by one: %r",
                sub.consumer,
                len(events),
                exc,
            )
            return False
        self.waiting_out_dependency = False
        for event in events:
            with context.bound(request_id=event.request_id, traceparent=event.traceparent):
                try:
                    outcome = await self._settle_together(event)
                    tracing.end_consume(event.span, outcome)
                    await self._delivered(event.msg)
                except Exception as exc:
                    tracing.end_consume(event.span, "failed", exc)
                    log.exception("consumer %s: delivery not settled", sub.consumer)
        return True

    async def _apply_nested(self, conn: AsyncConnection, event: _Together) -> None:
        """The event's inbox row and handler in a savepoint; a failure is kept in ``event``.

        A transient failure is raised: the whole transaction is retried one by one.
        """
        envelope = event.envelope
        event.span, event.traceparent = tracing.start_consume(
            self.subscription.consumer,
            envelope.type,
            (event.msg.headers or {}).get(HEADER_TRACEPARENT) or envelope.traceparent,
            envelope.id,
            envelope.request_id,
        )
        event.request_id = context.accept_request_id(envelope.request_id)
        try:
            opening = self._opening(envelope)
        except ValueError as exc:  # an id the database would refuse: nothing sent yet
            event.error = exc
            return
        driver = await driver_connection(conn)
        with context.bound(request_id=event.request_id, traceparent=event.traceparent):
            try:
                cursor = await driver.execute(opening)
                while cursor.nextset():
                    pass  # to the inbox row's result
                if not await cursor.fetchall():
                    return  # handled before: a duplicate
                await self.subscription.handler(conn, envelope)
                event.handled = True
            except Exception as exc:
                if is_transient(exc):
                    raise
                # Back to this event's savepoint (the latest of that name): what it wrote
                # and the organization it set are undone; earlier events keep theirs.
                await driver.execute(_ROLLBACK_EVENT)
                event.error = exc

    def _opening(self, envelope: Envelope) -> sql.Composed:
        """One round trip opening an event of a shared transaction: its savepoint, its
        organization (row-level security), its inbox row (returned when new).

        The savepoint is never released (a round trip saved): the next event's, of the same
        name, stacks on it. Releasing or not, the organization set here holds until the next
        event sets its own, which it does before any statement of its handler.
        """
        return _OPEN_EVENT.format(
            savepoint=_EVENT_SAVEPOINT,
            tenant=set_tenant_statement(envelope.org_id),
            inbox=sql.Identifier(INBOX.name),
            consumer=sql.Literal(self.subscription.consumer),
            event_id=sql.Literal(str(uuid.UUID(envelope.id))),
        )

    async def _settle_together(self, event: _Together) -> str:
        """After the shared commit: ack, or the failure path of a first delivery."""
        if event.error is not None:
            self.outcomes.failed.inc()
            attempt = _Attempt(failed_before=0, recorded=None, previous=None)
            await self._failed(event.msg, event.envelope, event.error, attempt)
            return "dead_lettered" if self.subscription.max_deliver <= 1 else "failed"
        (self.outcomes.handled if event.handled else self.outcomes.duplicate).inc()
        await event.msg.ack()
        return "handled" if event.handled else "duplicate"

    async def _heartbeat(self, msgs: list[Msg]) -> None:
        while True:
            await asyncio.sleep(self.subscription.heartbeat_s)
            for msg in list(msgs):
                try:
                    await msg.in_progress()
                except Exception:
                    log.debug("in-progress heartbeat failed", exc_info=True)

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
            await self._dead_letter(msg, str(exc), failed=1, cause=UNDECODABLE)
            return
        # The handling continues the causing request: its logs, its calls and the events it
        # publishes carry the same request id and trace (while tracing, under this span).
        span, traceparent = tracing.start_consume(
            sub.consumer,
            envelope.type,  # the subject it was published on
            (msg.headers or {}).get(HEADER_TRACEPARENT) or envelope.traceparent,
            envelope.id,
            envelope.request_id,
        )
        outcome, error = "failed", None
        try:
            with context.bound(
                request_id=context.accept_request_id(envelope.request_id),
                traceparent=traceparent,
            ):
                outcome = await self._settle(msg, envelope)
        except BaseException as exc:
            error = exc
            raise
        finally:
            tracing.end_consume(span, outcome, error)

    async def _settle(self, msg: Msg, envelope: Envelope) -> str:
        """Attempt budget, inbox row + handler, ack; the outcome (``CONSUMER_OUTCOMES``)."""
        attempt = await self._begin(msg, envelope)
        if attempt is None:
            return "dead_lettered"
        try:
            handled = await self._apply(envelope)
        except asyncio.CancelledError:
            # Stopping is not the event's fault: take back the failure recorded in advance.
            await self._restore(msg, attempt)
            raise
        except Exception as exc:
            self.outcomes.failed.inc()
            await self._failed(msg, envelope, exc, attempt)
            if attempt.failed_before + 1 >= self.subscription.max_deliver:
                return "dead_lettered"
            return "failed"
        (self.outcomes.handled if handled else self.outcomes.duplicate).inc()
        await msg.ack()
        if attempt.recorded is not None or attempt.previous is not None:
            await self._forget(msg)
        return "handled" if handled else "duplicate"

    def _key(self, msg: Msg) -> tuple[str, str, int]:
        meta = msg.metadata
        return self.subscription.consumer, meta.stream, meta.sequence.stream

    async def _begin(self, msg: Msg, envelope: Envelope) -> _Attempt | None:
        """Check the event's budget and record this attempt as failed until it succeeds.

        None when the budget is spent: the event has been dead-lettered instead.
        """
        sub = self.subscription
        deliveries = msg.metadata.num_delivered or 1
        if deliveries == 1:
            # The common case costs no round trip: a failure is recorded when it happens,
            # and a process dying here is counted by the next delivery (below).
            return _Attempt(failed_before=0, recorded=None, previous=None)
        previous = await self.attempts.get(*self._key(msg))
        # A redelivery with nothing recorded: the first delivery ended without a verdict
        # (the process died in the handler, or before reaching it). Count it as failed, so
        # an event that kills its consumer every time runs out of attempts.
        failed = previous.failed if previous is not None else 1
        if failed >= sub.max_deliver:
            error = previous.last_error if previous is not None else _died(deliveries - 1)
            cause = previous.error_class if previous is not None else CRASH
            log.error(
                "consumer %s: event %s (%s) failed %d attempts (%d deliveries); dead-lettering: %s",
                sub.consumer,
                envelope.id,
                envelope.type,
                failed,
                deliveries,
                error,
            )
            await self._dead_letter(msg, error, failed=failed, cause=cause)
            return None
        # Written before the handler runs: if the process dies inside it, the next delivery
        # finds this attempt counted.
        recorded = Attempts(failed=failed + 1, last_error=_died(deliveries), error_class=CRASH)
        await self.attempts.record(*self._key(msg), recorded)
        return _Attempt(failed_before=failed, recorded=recorded, previous=previous)

    async def _apply(self, envelope: Envelope) -> bool:
        """Run the handler with its inbox row; retry transient failures without counting them.

        A dependency that is away (database, broker, another service) says nothing about the
        event, so the same delivery is retried in place, for as long as it takes, while the
        heartbeat keeps the message ours: the broker's delivery count does not grow either.
        """
        sub = self.subscription
        retries = 0
        while True:
            try:
                handled = await self._apply_once(envelope)
                self.waiting_out_dependency = False
                return handled
            except Exception as exc:
                if not is_transient(exc):
                    self.waiting_out_dependency = False
                    raise
                self.waiting_out_dependency = True
                retries += 1
                delay = sub.transient_delay(retries)
                log.warning(
                    "consumer %s: event %s (%s): dependency unavailable (try %d), "
                    "retrying in %.1fs without counting it: %r",
                    sub.consumer,
                    envelope.id,
                    envelope.type,
                    retries,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)

    async def _apply_once(self, envelope: Envelope) -> bool:
        """True when the handler ran; False for an event this consumer had handled before."""
        sub = self.subscription
        async with self.engine.begin() as conn:
            # A consumer acts for the organization the event belongs to (row-level security).
            await set_tenant(conn, envelope.org_id)
            first = await conn.execute(
                insert(INBOX)
                .values(consumer=sub.consumer, event_id=uuid.UUID(envelope.id))
                .on_conflict_do_nothing()
                .returning(INBOX.c.event_id)
            )
            if first.first() is None:
                return False
            await sub.handler(conn, envelope)  # in the request context ``handle`` bound
        return True

    async def _restore(self, msg: Msg, attempt: _Attempt) -> None:
        if attempt.recorded is None:
            return
        try:
            if attempt.previous is None:
                await self.attempts.clear(*self._key(msg))
            else:
                await self.attempts.record(*self._key(msg), attempt.previous)
        except Exception:
            log.debug("attempt not restored", exc_info=True)

    async def _forget(self, msg: Msg) -> None:
        try:
            await self.attempts.clear(*self._key(msg))
        except Exception:
            # Expires with the bucket's retention; the event is settled either way.
            log.debug("attempt record not cleared", exc_info=True)

    async def _failed(
        self, msg: Msg, envelope: Envelope, exc: Exception, attempt: _Attempt
    ) -> None:
        sub = self.subscription
        deliveries = msg.metadata.num_delivered or 1
        failed = attempt.failed_before + 1
        error = f"{type(exc).__name__}: {exc}"
        cause = error_class(exc)
        if failed >= sub.max_deliver:
            log.error(
                "consumer %s: event %s (%s) failed attempt %d of %d; dead-lettering",
                sub.consumer,
                envelope.id,
                envelope.type,
                failed,
                sub.max_deliver,
                exc_info=exc,
            )
            await self._dead_letter(msg, error, failed=failed, cause=cause)
            return
        await self.attempts.record(
            *self._key(msg),
            Attempts(failed=failed, last_error=_header_value(error), error_class=cause),
        )
        delay = sub.retry_delay(failed)
        log.warning(
            "consumer %s: event %s (%s) failed attempt %d of %d (delivery %d), "
            "retrying in %.1fs: %r",
            sub.consumer,
            envelope.id,
            envelope.type,
            failed,
            sub.max_deliver,
            deliveries,
            delay,
            exc,
        )
        await msg.nak(delay=delay)

    async def _dead_letter(self, msg: Msg, error: str, *, failed: int, cause: str) -> None:
        """Copy the message (headers kept, history added) to the dead-letter subject, then term."""
        sub = self.subscription
        assert sub.dead_letter_subject is not None
        meta = msg.metadata
        headers = {
            key: value
            for key, value in (msg.headers or {}).items()
            # A redelivered event carries the expectation it was republished with (its
            # stream); kept, it would make the broker refuse the copy to the DLQ stream.
            if not key.lower().startswith("nats-expected-")
        }
        original_id = headers.get(HEADER_MSG_ID) or f"{meta.stream}:{meta.sequence.stream}"
        headers.update(
            {
                # A retried dead-lettering of the same delivery stays one DLQ message.
                HEADER_MSG_ID: f"{sub.consumer}:{original_id}",
                HEADER_DLQ_ERROR: _header_value(error),
                HEADER_DLQ_ERROR_CLASS: cause,
                HEADER_DLQ_CONSUMER: sub.consumer,
                HEADER_DLQ_STREAM: meta.stream,
                HEADER_DLQ_SUBJECT: msg.subject,
                HEADER_DLQ_DELIVERIES: str(meta.num_delivered),
                HEADER_DLQ_FAILED_ATTEMPTS: str(failed),
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
            # Leave it unacknowledged: it comes back, and is dead-lettered then.
            await msg.nak(delay=sub.retry_delay(failed))
            return
        self.outcomes.dead_lettered.inc()
        await msg.term()
        await self._forget(msg)


def _filters(config: ConsumerConfig) -> set[str]:
    subjects = set(config.filter_subjects or ())
    if config.filter_subject:
        subjects.add(config.filter_subject)
    return subjects


def _died(delivery: int) -> str:
    return f"the consumer stopped while handling delivery {delivery} (process died or was killed)"
