"""Periodic purge of rows that are only kept for a while: spent sessions, request ids."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncEngine

from identity.app.ports import Clock
from identity.storage.tables import idempotency_keys, refresh_tokens

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
        tokens = await conn.execute(
            delete(refresh_tokens).where(
                or_(
                    refresh_tokens.c.expires_at < token_cutoff,
                    refresh_tokens.c.revoked_at < token_cutoff,
                )
            )
        )
        keys = await conn.execute(
            delete(idempotency_keys).where(idempotency_keys.c.created_at < now - policy.request_ids)
        )
    return tokens.rowcount, keys.rowcount


async def purge_now(engine: AsyncEngine, clock: Clock, policy: RetentionPolicy) -> None:
    """One pass of the retention job (run by keel_runtime.periodic)."""
    tokens, keys = await purge(engine, clock.now(), policy)
    if tokens or keys:
        log.info("purged %d refresh tokens and %d request ids", tokens, keys)
