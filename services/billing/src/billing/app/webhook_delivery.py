"""Webhook delivery: fan billing events out to endpoints, then POST them signed, with retries."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from billing.app.ports import Clock, UnitOfWork, UnitOfWorkFactory, WebhookSender
from billing.domain.errors import DeliveryFailed
from billing.domain.webhook import Delivery, retry_delay_s, signature_header

log = logging.getLogger(__name__)


async def fan_out(
    uow: UnitOfWork, org_id: str, event_id: str, event_type: str, body: bytes, clock: Clock
) -> int:
    """Queue an event for the organization's endpoints, inside the caller's transaction."""
    return await uow.deliveries.enqueue(org_id, event_id, event_type, body, clock())


class WebhookDispatcher:
    """Claims due deliveries in short transactions and sends them outside any transaction."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        sender: WebhookSender,
        clock: Clock,
        *,
        batch: int = 20,
        lease_s: float = 60.0,
    ) -> None:
        self._uow = uow
        self._sender = sender
        self._clock = clock
        self._batch = batch
        self._lease_s = lease_s

    async def dispatch_due(self) -> int:
        """Send every delivery due now (one batch); returns how many were attempted."""
        async with self._uow() as uow:
            due = await uow.deliveries.claim_due(self._clock(), self._batch, self._lease_s)
            await uow.commit()
        await asyncio.gather(*(self._attempt(d) for d in due))
        return len(due)

    async def _attempt(self, delivery: Delivery) -> None:
        now = self._clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "keel-billing-webhooks/1",
            "Keel-Event-Id": delivery.event_id,
            "Keel-Event-Type": delivery.event_type,
            "Keel-Signature": signature_header(
                delivery.signing_secret, int(now.timestamp()), delivery.body
            ),
        }
        try:
            await self._sender.send(delivery.url, headers, delivery.body)
        except DeliveryFailed as exc:
            delay = retry_delay_s(delivery.attempts + 1)
            retry_at = now + timedelta(seconds=delay) if delay is not None else None
            if retry_at is None:
                log.warning("webhook delivery %s abandoned: %s", delivery.delivery_id, exc)
            async with self._uow() as uow:
                await uow.deliveries.failed(delivery.delivery_id, str(exc), retry_at, self._clock())
                await uow.commit()
            return
        async with self._uow() as uow:
            await uow.deliveries.delivered(delivery.delivery_id, self._clock())
            await uow.commit()

    async def run(self, idle_s: float = 1.0) -> None:
        """Background task: dispatch until cancelled, pausing only when nothing is due."""
        while True:
            try:
                attempted = await self.dispatch_due()
            except Exception:
                log.exception("webhook dispatch failed")
                attempted = 0
            if attempted == 0:
                await asyncio.sleep(idle_s)
