"""Webhook delivery: which endpoints receive which billing events and the body they are sent
(queued in the transaction that commits the events, see billing.storage.uow), then the
signed POSTs, with retries."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import NamedTuple

from google.protobuf import json_format
from keel.billing.v1 import events_pb2 as billing_events  # noqa: F401  (registers payload types)

from billing.app.ports import Clock, UnitOfWorkFactory, WebhookSender
from billing.domain.errors import DeliveryFailed
from billing.domain.webhook import Delivery, retry_delay_s, signature_header, wants
from keel_runtime.events import Envelope
from keel_runtime.metrics import NO_METRICS, Metrics
from keel_runtime.periodic import Backoff, ItemRunner
from keel_runtime.tenancy import acting_for

log = logging.getLogger(__name__)

DELIVERY_JOB = "billing-webhook-deliveries"


def webhook_body(envelope: Envelope) -> bytes:
    """The JSON document POSTed to endpoints (signed over exactly these bytes)."""
    document = {
        "id": envelope.id,
        "type": envelope.type,
        "organization_id": envelope.org_id,
        "occurred_at": envelope.occurred_at.ToJsonString(),
        "data": json_format.MessageToDict(envelope.payload),
    }
    return json.dumps(document, separators=(",", ":")).encode()


class Recipient(NamedTuple):
    """An endpoint as the fan-out sees it: its organization and the event types it wants."""

    endpoint_id: str
    org_id: str
    event_types: tuple[str, ...]
    """Empty: every event."""


class NewDelivery(NamedTuple):
    """One event to queue for one endpoint."""

    endpoint_id: str
    event_id: str
    event_type: str
    body: bytes


def deliveries_for(
    recipients: Iterable[Recipient], envelopes: Sequence[Envelope]
) -> list[NewDelivery]:
    """One delivery per event and endpoint of the event's organization that wants its type;
    each body built once, and only for an event some endpoint wants."""
    bodies: dict[str, bytes] = {}
    queued: list[NewDelivery] = []
    for recipient in recipients:
        for envelope in envelopes:
            if envelope.org_id != recipient.org_id or not wants(
                recipient.event_types, envelope.type
            ):
                continue
            body = bodies.get(envelope.id)
            if body is None:
                body = bodies[envelope.id] = webhook_body(envelope)
            queued.append(NewDelivery(recipient.endpoint_id, envelope.id, envelope.type, body))
    return queued


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
