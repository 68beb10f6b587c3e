"""Periodic purge of rows that are only kept for a while: spent sessions, request ids."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncEngine

from identity.app.ports import Clock
from identity.storage.tables import idempotency_keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    refresh_tokens: timedelta = timedelta(days=7)
    """Expired or revoked refresh tokens are kept this long (reuse forensics), then deleted."""
    request_ids: timedelta = timedelta(days=2)
    """How long a request_id is remembered for idempotent retries."""
    interval: timedelta = timedelta(hours=1)


async def purge(engine: AsyncEngine, now: datetime, policy: RetentionPolicy) -> tuple[int, int]:
    """Delete what is past retention; returns (refresh tokens, request ids) deleted."""
    token_cutoff = now - policy.refresh_tokens
    async with engine.begin() as conn:
        # Refresh tokens are every organization's: the migration's SECURITY DEFINER function
        # (0002) deletes those past retention, and nothing else, across organizations.
        tokens = await conn.scalar(
            text("SELECT identity_purge_refresh_tokens(:cutoff)"), {"cutoff": token_cutoff}
        )
        # Request ids belong to no organization's policed rows (see the migration).
        keys = await conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.created_at < now - policy.request_ids)
        )
    return int(tokens or 0), keys.rowcount


async def purge_now(engine: AsyncEngine, clock: Clock, policy: RetentionPolicy) -> None:
    """One pass of the retention job (run by keel_runtime.periodic)."""
    tokens, keys = await purge(engine, clock.now(), policy)
    if tokens or keys:
        log.info("purged %d refresh tokens and %d request ids", tokens, keys)
