"""Webhook delivery: fan billing events out to endpoints, then POST them signed, with retries."""

from __future__ import annotations

import logging
from datetime import timedelta

from billing.app.ports import Clock, UnitOfWork, UnitOfWorkFactory, WebhookSender
from billing.domain.errors import DeliveryFailed
from billing.domain.webhook import Delivery, retry_delay_s, signature_header
from keel_runtime.metrics import NO_METRICS, Metrics
from keel_runtime.periodic import Backoff, ItemRunner
from keel_runtime.tenancy import acting_for

log = logging.getLogger(__name__)

DELIVERY_JOB = "billing-webhook-deliveries"


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
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._uow = uow
        self._sender = sender
        self._clock = clock
        self._batch = batch
        self._lease_s = lease_s
        self._metrics = metrics
        # One delivery whose bookkeeping fails (its row is retried when the lease ends)
        # never takes the batch's other sends down with it. No backoff in memory: the row
        # carries its own retry time.
        self._sending: ItemRunner[Delivery] = ItemRunner(
            DELIVERY_JOB,
            key=lambda d: d.delivery_id,
            metrics=metrics,
            backoff=Backoff(0, 0),
            concurrency=batch,
        )

    async def dispatch_due(self) -> int:
        """Send the deliveries due now (a batch per organization); how many were attempted.

        The organizations come from a cross-organization lookup (their ids alone); each
        one's deliveries are claimed, sent and recorded acting for that organization.
        """
        now = self._clock()
        async with self._uow() as uow:
            organizations = await uow.deliveries.organizations_due(now, self._batch)
        attempted = 0
        for org_id in organizations:
            with acting_for(org_id):
                async with self._uow() as uow:
                    due = await uow.deliveries.claim_due(now, self._batch, self._lease_s)
                    await uow.commit()
                await self._sending.run(due, self._attempt)
            attempted += len(due)
        return attempted

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
