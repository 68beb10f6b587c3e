"""Pruning settled events: published outbox rows past the replay horizon, old inbox rows."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import Delete, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime.events.tables import INBOX, OUTBOX
from keel_runtime.metrics import NO_METRICS, Metrics
from keel_runtime.periodic import run_periodically
from keel_runtime.settings import RetentionSettings

log = logging.getLogger(__name__)

BATCH = 5_000
"""Rows per DELETE: short transactions, so writers and the relay never wait long."""


async def prune_outbox(engine: AsyncEngine, *, older_than: timedelta, batch: int = BATCH) -> int:
    """Delete published rows older than ``older_than`` (the end of the replay horizon)."""
    due = (
        select(OUTBOX.c.id)
        .where(
            OUTBOX.c.published_at.is_not(None),
            OUTBOX.c.created_at < func.now() - older_than,
        )
        .limit(batch)
    )
    return await _delete_in_batches(engine, delete(OUTBOX).where(OUTBOX.c.id.in_(due)), batch)


async def prune_inbox(engine: AsyncEngine, *, older_than: timedelta, batch: int = BATCH) -> int:
    """Delete inbox rows of events handled more than ``older_than`` ago."""
    key = tuple_(INBOX.c.consumer, INBOX.c.event_id)
    due = (
        select(INBOX.c.consumer, INBOX.c.event_id)
        .where(INBOX.c.processed_at < func.now() - older_than)
        .limit(batch)
    )
    return await _delete_in_batches(engine, delete(INBOX).where(key.in_(due)), batch)


async def _delete_in_batches(engine: AsyncEngine, statement: Delete, batch: int) -> int:
    total = 0
    while True:
        async with engine.begin() as conn:
            deleted = int((await conn.execute(statement)).rowcount or 0)
        total += deleted
        if deleted < batch:
            return total


async def prune_events(engine: AsyncEngine, retention: RetentionSettings) -> dict[str, int]:
    """Prune the outbox and the inbox; a failing table is logged and does not stop the other."""
    jobs: dict[str, Callable[[], Awaitable[int]]] = {
        "outbox": functools.partial(
            prune_outbox, engine, older_than=timedelta(seconds=retention.outbox_seconds)
        ),
        "inbox": functools.partial(
            prune_inbox, engine, older_than=timedelta(seconds=retention.inbox_seconds)
        ),
    }
    pruned: dict[str, int] = {}
    for table, job in jobs.items():
        try:
            pruned[table] = await job()
        except Exception:
            log.exception("pruning failed; retried at the next round", extra={"table": table})
    if any(pruned.values()):
        log.info("pruned settled events", extra={"pruned": pruned})
    return pruned


async def run_pruning(
    engine: AsyncEngine, retention: RetentionSettings, *, metrics: Metrics = NO_METRICS
) -> None:
    """Prune now and then every ``retention.interval_seconds``, until cancelled."""
    await run_periodically(
        functools.partial(prune_events, engine, retention),
        interval_s=retention.interval_seconds,
        name="prune_events",
        metrics=metrics,
    )
