"""The enrichment command: run the provider for an ENRICHING item and record the outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from items.app.items import utc_now
from items.app.ports import AttemptCounter, EnrichmentProvider, UnitOfWork
from items.domain.errors import EnrichmentError
from items.domain.model import Enrichment, ItemState

log = logging.getLogger(__name__)


class EnrichItem:
    """Runs once per delivery of an enrichment event, inside the consumer's transaction.

    A failed attempt raises EnrichmentError so the event is redelivered after a backoff;
    the last attempt marks the item FAILED instead. Deliveries for an item that is no
    longer ENRICHING (enriched by an earlier delivery, discarded meanwhile) do nothing.
    """

    def __init__(
        self,
        provider: EnrichmentProvider,
        attempts: AttemptCounter,
        *,
        max_attempts: int,
        timeout_s: float = 20.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self._provider = provider
        self._attempts = attempts
        self._max_attempts = max_attempts
        self._timeout_s = timeout_s
        self._clock = clock

    async def __call__(self, uow: UnitOfWork, org_id: str, item_id: UUID) -> None:
        item = await uow.items.get(org_id, item_id)
        if item is None or item.state is not ItemState.ENRICHING:
            return
        attempt = await self._attempts.next_attempt(org_id, item_id)
        if attempt == 0:  # discarded (or enriched by another delivery) meanwhile
            return
        enrichment: Enrichment | None = None
        failure = ""
        try:
            # The provider runs without the row lock: a slow provider must not block
            # confirm/discard calls on the item.
            async with asyncio.timeout(self._timeout_s):
                enrichment = await self._provider.enrich(item.source)
        except Exception as exc:
            failure = _describe(exc)
            if attempt < self._max_attempts:
                log.warning(
                    "enrichment of item %s failed (attempt %d of %d): %s",
                    item_id,
                    attempt,
                    self._max_attempts,
                    failure,
                )
                raise EnrichmentError(failure, item_id=str(item_id)) from exc
        item = await uow.items.get(org_id, item_id, for_update=True)
        if item is None or item.state is not ItemState.ENRICHING:
            return
        if enrichment is not None:
            item.enrich(enrichment, attempts=attempt, now=self._clock())
        else:
            item.fail_enrichment(failure, attempts=attempt, now=self._clock())
        await uow.items.save(item)
        uow.record(*item.pull_events())
        await uow.commit()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "enrichment provider timed out"
    return str(exc) or type(exc).__name__
