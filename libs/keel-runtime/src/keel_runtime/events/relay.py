"""Outbox relay: publishes committed outbox rows to JetStream in transaction order."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck
from sqlalchemy import Row, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime.events.connection import connect_nats
from keel_runtime.events.outbox import (
    HEADER_MSG_ID,
    HEADER_REQUEST_ID,
    NOTIFY_CHANNEL,
    register_waker,
    set_publishing,
    unregister_waker,
)
from keel_runtime.events.tables import OUTBOX, Xid8
from keel_runtime.metrics import NO_METRICS, Metrics
from keel_runtime.tracing import spans as tracing

log = logging.getLogger(__name__)

# pg advisory lock key (per database): one relay publishes at a time.
RELAY_LOCK_KEY = 0x6B65_656C_7265_6C61  # "keelrela"

# The oldest transaction that could still add a row to *this* database's outbox: the
# transactions the statement's snapshot sees running, minus those that pg_stat_activity
# shows connected to another database (an xid belongs to one database for life, so that
# identification never goes stale); with none left, the snapshot's xmax. A long transaction
# in another database of the cluster therefore holds nothing back, while anything unsure
# (prepared transactions, a backend whose xid this role may not see) still counts.
_HORIZON = literal_column(
    """(
    SELECT coalesce(min(running), pg_snapshot_xmax(pg_current_snapshot()))
    FROM pg_snapshot_xip(pg_current_snapshot()) AS running
    WHERE NOT EXISTS (
        SELECT FROM pg_stat_activity AS backend
        WHERE backend.backend_xid = running::xid
          AND backend.datname IS DISTINCT FROM current_database()
    )
)""",
    type_=Xid8(),
)

# Unpublished rows in txid order, each saying whether its writing transaction is below the
# horizon: every transaction that could still add a row with a smaller txid has ended, so
# the stream gets the rows in txid order and nothing is passed over. The ready rows come
# first; a row after them is held back by a transaction still running.
_PENDING = select(
    OUTBOX.c.id,
    OUTBOX.c.subject,
    OUTBOX.c.payload,
    OUTBOX.c.headers,
    (OUTBOX.c.txid < _HORIZON).label("ready"),
).where(OUTBOX.c.published_at.is_(None))

HELD_BACK_RECHECK_S = 0.005
"""First pause before looking again at rows held back by a running transaction, doubled up
to the poll interval while they stay held: that transaction may commit without writing to
the outbox, and then nothing notifies."""

# For the backlog gauges: the partial index on unpublished rows keeps this small.
_BACKLOG = select(
    func.count(),
    func.coalesce(func.extract("epoch", func.now() - func.min(OUTBOX.c.created_at)), 0),
).where(OUTBOX.c.published_at.is_(None))


def _headers(event_id: uuid.UUID, stored: Mapping[str, Any] | None) -> dict[str, str]:
    headers = {str(k): str(v) for k, v in (stored or {}).items()}
    headers[HEADER_MSG_ID] = str(event_id)
    return headers


def _publish(js: JetStreamContext, row: Row[*tuple[Any, ...]], timeout: float) -> Awaitable[PubAck]:
    headers = _headers(row.id, row.headers)
    # Tracing on: a span per publish, whose traceparent the message carries instead of the
    # request's, so the consumers' spans continue the trace under it.
    span = tracing.start_publish(row.subject, headers, str(row.id), headers.get(HEADER_REQUEST_ID))
    sending = js.publish(row.subject, row.payload, timeout=timeout, headers=headers)
    return sending if span is None else tracing.published(span, sending)


async def _publish_rows(
    js: JetStreamContext, rows: Sequence[Row[*tuple[Any, ...]]], *, publish_timeout: float
) -> list[PubAck | BaseException]:
    # All rows of a batch in flight at once: JetStream acks ~3x more per second than one by one,
    # and one connection keeps their order in the stream.
    return await asyncio.gather(
        *(_publish(js, row, publish_timeout) for row in rows),
        return_exceptions=True,
    )


class OutboxRelay:
    """Background task publishing the outbox of one database.

    Run ``run()`` as a service background task. It looks at the outbox when a transaction
    that wrote to it commits: woken at once in this process, and by the notification every
    outbox write sends (``NOTIFY keel_outbox``, delivered at commit) from any other; and
    every ``poll_interval`` whatever happens, for a notification missed while the listening
    connection was down. Rows are marked published only after their
    PubAck. A row whose marking fails (the database went away after the PubAck) is
    remembered and marked on a later pass without being published again, however long the
    database stays away: a re-publish past the stream's duplicate window (2 minutes) would
    be stored as a second copy. Only a relay process that dies between a PubAck and its
    commit publishes such rows again (its successor knows nothing of them); within the
    duplicate window JetStream drops them, after it consumers' inboxes do.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        nats: str | JetStreamContext,
        *,
        batch: int = 256,
        poll_interval: float = 0.2,
        publish_timeout: float = 5.0,
        max_error_backoff: float = 10.0,
        metrics: Metrics = NO_METRICS,
        backlog_interval: float = 5.0,
        listen: bool = True,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be >= 1")
        self.engine = engine
        self._nats = nats
        self.batch = batch
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        self.max_error_backoff = max_error_backoff
        self._js: JetStreamContext | None = nats if isinstance(nats, JetStreamContext) else None
        self._wake = asyncio.Event()
        self._running = False
        self._held_back = False
        """The last pass left rows behind a transaction still running."""
        self._metrics = metrics.outbox()
        # The backlog is counted when idle, at most this often, and only if metrics are on.
        self.backlog_interval = backlog_interval
        self._backlog_sampled = -math.inf
        self._acked_unmarked: set[uuid.UUID] = set()
        """Rows JetStream acknowledged whose ``published_at`` has not committed yet."""
        self.listen = listen
        """Whether ``run()`` listens for the outbox writes' notifications."""

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Publish until cancelled."""
        nc: Client | None = None
        if self._js is None:
            assert isinstance(self._nats, str)
            nc, self._js = await connect_nats(self._nats, name="outbox-relay")
        register_waker(self.engine, self._wake)
        self._running = True
        listening = (
            asyncio.create_task(self._listen(), name="outbox-listen") if self.listen else None
        )
        failures = 0
        recheck = HELD_BACK_RECHECK_S
        try:
            while True:
                try:
                    published = await self.relay_once()
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception:
                    failures += 1
                    delay = min(self.max_error_backoff, self.poll_interval * 2**failures)
                    log.exception("outbox relay failed; retrying in %.1fs", delay)
                    await asyncio.sleep(delay)
                    continue
                if published >= self.batch:
                    continue  # more are probably waiting
                await self._sample_backlog()
                if self._held_back:
                    await self._idle(min(recheck, self.poll_interval))
                    recheck *= 2
                else:
                    recheck = HELD_BACK_RECHECK_S
                    await self._idle(self.poll_interval)
        finally:
            self._running = False
            unregister_waker(self.engine, self._wake)
            set_publishing(self.engine, self._wake, False)
            if listening is not None:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
            if nc is not None:
                await nc.drain()

    async def _listen(self) -> None:
        """Wake the relay on every notification of an outbox write; reconnect when the
        connection goes, meanwhile the poll finds what was committed."""
        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    if failures:
                        log.info("outbox relay: listening for outbox writes again")
                    failures = 0
                    # Whatever committed before LISTEN took effect sent its notification to
                    # nobody: one look now covers it.
                    self._wake.set()
                    async for _ in conn.notifies():
                        self._wake.set()
                    raise psycopg.OperationalError("the listening connection ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = min(self.max_error_backoff, self.poll_interval * 2**failures)
                log.warning(
                    "outbox relay: not listening for outbox writes (%r); polling every %.1fs,"
                    " listening again in %.1fs",
                    exc,
                    self.poll_interval,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _sample_backlog(self) -> None:
        if not self._metrics.enabled:
            return
        now = time.monotonic()
        if now - self._backlog_sampled < self.backlog_interval:
            return
        self._backlog_sampled = now
        try:
            async with self.engine.connect() as conn:
                count, age = (await conn.execute(_BACKLOG)).one()
        except Exception:
            log.debug("outbox backlog not sampled", exc_info=True)
            return
        self._metrics.unpublished.set(count)
        self._metrics.oldest_unpublished_age.set(float(age))

    async def _idle(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    async def _mark(self, conn: AsyncConnection, ids: list[uuid.UUID]) -> None:
        await conn.execute(
            update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(published_at=func.now())
        )

    async def relay_once(self) -> int:
        """Publish one batch of ready rows; returns how many were published and marked."""
        js = self._js
        if js is None:
            raise RuntimeError("relay_once() needs a JetStreamContext (or run())")
        async with self.engine.connect() as conn, conn.begin():
            locked = await conn.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY)))
            if self._running:  # only a running relay is woken by this process's commits
                set_publishing(self.engine, self._wake, bool(locked))
            if not locked:
                return 0  # another relay owns this database's outbox right now
            unpublished = (
                await conn.execute(_PENDING.order_by(OUTBOX.c.txid, OUTBOX.c.id).limit(self.batch))
            ).all()
            rows = list(itertools.takewhile(lambda row: row.ready, unpublished))
            self._held_back = len(rows) < len(unpublished)
            if not rows:
                return 0
            # Rows the stream acknowledged on an earlier pass whose marking did not commit
            # (the database went away in between) are marked without publishing them again:
            # that retry could come after the duplicate window and put a second copy in the
            # stream.
            done = [row.id for row in rows if row.id in self._acked_unmarked]
            pending = [row for row in rows if row.id not in self._acked_unmarked]
            acks = await _publish_rows(js, pending, publish_timeout=self.publish_timeout)
            failed: list[tuple[uuid.UUID, BaseException]] = []
            for row, ack in zip(pending, acks, strict=True):
                if isinstance(ack, PubAck):
                    done.append(row.id)
                else:
                    failed.append((row.id, ack))
            self._acked_unmarked.update(done)
            if done:
                await self._mark(conn, done)
        self._acked_unmarked.difference_update(done)
        self._metrics.published.inc(len(done))  # committed: counted once
        if failed:
            event_id, error = failed[0]
            log.warning(
                "outbox relay: %d of %d events not acknowledged (first %s: %r); will retry",
                len(failed),
                len(rows),
                event_id,
                error,
            )
            if not done:
                raise RuntimeError(f"no event of the batch was acknowledged: {error!r}")
        return len(done)


@dataclass(frozen=True)
class ReplayResult:
    republished: int
    """Messages sent again."""
    duplicates: int
    """Of those, how many JetStream dropped as duplicates (inside the duplicate window)."""


async def replay(
    engine: AsyncEngine,
    js: JetStreamContext,
    *,
    event_ids: Collection[str | uuid.UUID] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 256,
    publish_timeout: float = 5.0,
) -> ReplayResult:
    """Re-publish kept outbox rows by event id and/or creation time range [since, until).

    Within the stream's duplicate window JetStream drops them as duplicates; after it,
    consumers see a redelivery and their inbox makes it a no-op.
    """
    if event_ids is None and since is None and until is None:
        raise ValueError("replay needs event_ids, since or until")
    query = select(OUTBOX.c.id, OUTBOX.c.subject, OUTBOX.c.payload, OUTBOX.c.headers)
    if event_ids is not None:
        query = query.where(OUTBOX.c.id.in_([uuid.UUID(str(i)) for i in event_ids]))
    if since is not None:
        query = query.where(OUTBOX.c.created_at >= since)
    if until is not None:
        query = query.where(OUTBOX.c.created_at < until)
    query = query.order_by(OUTBOX.c.txid, OUTBOX.c.id)

    republished = duplicates = 0
    async with engine.connect() as conn:
        result = await conn.stream(query.execution_options(yield_per=batch))
        async for chunk in result.partitions(batch):
            acks = await _publish_rows(js, chunk, publish_timeout=publish_timeout)
            for ack in acks:
                if isinstance(ack, BaseException):
                    raise ack
                republished += 1
                duplicates += bool(ack.duplicate)
    return ReplayResult(republished=republished, duplicates=duplicates)
