"""Webhook endpoint commands and queries: create (secret shown once), list, delete; an
endpoint's deliveries: list, redeliver."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from billing.app.access import require_billing_manager
from billing.app.commands import (
    CreateWebhookEndpoint,
    DeleteWebhookEndpoint,
    ListWebhookDeliveries,
    ListWebhookEndpoints,
    RedeliverWebhook,
)
from billing.app.ports import Clock, IdFactory, UnitOfWork, UnitOfWorkFactory, WebhookTargets
from billing.app.request_ids import claim
from billing.domain.errors import DeliveryNotFound, WebhookEndpointNotFound
from billing.domain.webhook import DeliveryRecord, WebhookEndpoint
from keel_runtime import paging


@dataclass(frozen=True, slots=True)
class WebhookPage:
    endpoints: list[WebhookEndpoint]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    deliveries: list[DeliveryRecord]
    next_page_token: str


class WebhookHandlers:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        new_id: IdFactory,
        targets: WebhookTargets,
        *,
        reads: UnitOfWorkFactory | None = None,
    ) -> None:
        self._uow = uow
        # Pure reads go through units of work without a transaction of their own (read_only).
        self._reads = reads or uow
        self._clock = clock
        self._new_id = new_id
        self._targets = targets

    async def create(self, command: CreateWebhookEndpoint) -> tuple[WebhookEndpoint, str]:
        """The endpoint and its signing secret ("" on a repeated request: shown once)."""
        org_id = require_billing_manager(command.caller)
        url, event_types = command.url, command.event_types
        description, request_id = command.description, command.request_id
        await self._targets.check(url)  # before any row: a refused URL leaves nothing behind
        async with self._uow() as uow:
            endpoint_id = self._new_id()
            first = await claim(
                uow,
                org_id,
                request_id,
                "CreateWebhookEndpoint",
                {"url": url, "event_types": sorted(event_types), "description": description},
                endpoint_id,
            )
            if first is not None:
                existing = await uow.webhooks.get(org_id, first)
                if existing is None:
                    raise WebhookEndpointNotFound("webhook endpoint was deleted", id=first)
                return existing, ""
            endpoint = WebhookEndpoint(
                webhook_endpoint_id=endpoint_id,
                org_id=org_id,
                url=url,
                event_types=tuple(event_types),
                description=description,
                create_time=self._clock(),
            )
            secret = "whsec_" + secrets.token_urlsafe(32)
            await uow.webhooks.add(endpoint, secret)
            await uow.commit()
            return endpoint, secret

    async def list(self, query: ListWebhookEndpoints) -> WebhookPage:
        limit = paging.page_size(query.page_size)
        org_id = query.caller.require_org()
        digest = paging.query_digest("ListWebhookEndpoints", org_id)
        before = paging.decode_time_key(query.page_token, digest)
        async with self._reads() as uow:
            rows = await uow.webhooks.list(org_id, before=before, limit=limit + 1)
        token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            token = paging.encode_time_key(last.create_time, last.webhook_endpoint_id, digest)
        return WebhookPage(rows, token)

    async def delete(self, command: DeleteWebhookEndpoint) -> None:
        org_id = require_billing_manager(command.caller)
        endpoint_id = command.webhook_endpoint_id
        async with self._uow() as uow:
            if not await uow.webhooks.delete(org_id, endpoint_id):
                raise WebhookEndpointNotFound("webhook endpoint not found", id=endpoint_id)
            await uow.commit()

    async def list_deliveries(self, query: ListWebhookDeliveries) -> DeliveryPage:
        limit = paging.page_size(query.page_size)
        org_id, endpoint_id = query.caller.require_org(), query.webhook_endpoint_id
        digest = paging.query_digest("ListWebhookDeliveries", org_id, endpoint_id)
        before = paging.decode_time_key(query.page_token, digest)
        # Two statements, no snapshot needed: an endpoint deleted in between takes its
        # deliveries with it (ON DELETE CASCADE), so the page is then empty.
        async with self._reads() as uow:
            await _endpoint(uow, org_id, endpoint_id)
            rows = list(
                await uow.deliveries.list_for_endpoint(endpoint_id, before=before, limit=limit + 1)
            )
        token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            token = paging.encode_time_key(rows[-1].create_time, rows[-1].delivery_id, digest)
        return DeliveryPage(rows, token)

    async def redeliver(self, command: RedeliverWebhook) -> DeliveryRecord:
        org_id = require_billing_manager(command.caller)
        endpoint_id, delivery_id = command.webhook_endpoint_id, command.delivery_id
        async with self._uow() as uow:
            await _endpoint(uow, org_id, endpoint_id)
            record = await uow.deliveries.redeliver(endpoint_id, delivery_id, self._clock())
            if record is None:
                raise DeliveryNotFound("webhook delivery not found", id=delivery_id)
            await uow.commit()
            return record


async def _endpoint(uow: UnitOfWork, org_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = await uow.webhooks.get(org_id, endpoint_id)
    if endpoint is None:
        raise WebhookEndpointNotFound("webhook endpoint not found", id=endpoint_id)
    return endpoint
