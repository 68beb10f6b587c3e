"""Webhooks against PostgreSQL: deliveries queued in the transaction committing billing events,
signed HTTP delivery, retries."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from keel.billing.v1 import events_pb2
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.adapters.webhook_sender import HttpWebhookSender
from billing.adapters.webhook_targets import WebhookTargets
from billing.app.commands import (
    CreateWebhookEndpoint,
    DeleteWebhookEndpoint,
)
from billing.app.webhook_delivery import WebhookDispatcher
from billing.bootstrap import build_handlers
from billing.storage.repositories import DeliveryRepository
from billing.storage.tables import webhook_deliveries
from billing.storage.uow import sql_unit_of_work_factory
from keel_runtime.caller import Caller
from keel_runtime.events import Envelope, new_event
from keel_runtime.tenancy import set_tenant

from ..serving import serving
from ..unit.conftest import PUBLIC_ADDRESS, FakeClock, FakeLedger, public_dns

pytestmark = pytest.mark.integration


def paid_event(org_id: str) -> Envelope:
    return new_event(
        type="billing.invoice.paid",
        source="billing",
        subject="inv-1",
        org_id=org_id,
        payload=events_pb2.InvoicePaid(invoice_id="inv-1", transaction_id="tx-1"),
    )


async def deliveries(engine: AsyncEngine) -> int:
    """Deliveries of every organization (``engine``: the administrator's)."""
    async with engine.connect() as conn:
        query = select(func.count()).select_from(webhook_deliveries)
        return int((await conn.execute(query)).scalar_one())


async def deliver(engine: AsyncEngine, envelope: Envelope, clock: FakeClock) -> None:
    """As a unit of work committing the event queues its deliveries: acting for the event's
    organization."""
    async with engine.begin() as conn:
        await set_tenant(conn, envelope.org_id)
        await DeliveryRepository(conn).enqueue_events([envelope], clock())


async def test_signed_delivery_with_a_retry(engine: AsyncEngine, admin_engine: AsyncEngine) -> None:
    clock = FakeClock(datetime.now(UTC))
    handlers = serving(build_handlers(engine, FakeLedger(), clock))
    org_id = str(uuid.uuid4())
    owner = Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))
    _, secret = await handlers.webhooks.create(
        CreateWebhookEndpoint(
            owner,
            url="https://hooks.example/all",
            event_types=[],
            description="",
            request_id=str(uuid.uuid4()),
        )
    )
    await handlers.webhooks.create(
        CreateWebhookEndpoint(
            owner,
            url="https://hooks.example/usage",
            event_types=["billing.usage.recorded"],
            description="",
            request_id=str(uuid.uuid4()),
        )
    )
    other = Caller(subject="u2", org_id=str(uuid.uuid4()), roles=frozenset({"OWNER"}))
    await handlers.webhooks.create(
        CreateWebhookEndpoint(
            other,
            url="https://hooks.example/other",
            event_types=[],
            description="",
            request_id=str(uuid.uuid4()),
        )
    )

    event = paid_event(org_id)
    for _ in range(2):  # the same event again queues nothing new
        await deliver(engine, event, clock)
    # Another organization's event: the dispatcher sends both organizations' deliveries.
    await deliver(engine, paid_event(other.org_id), clock)
    assert await deliveries(admin_engine) == 2

    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        first_to_all = [r.url.path for r in received].count("/all") == 1
        return httpx.Response(500 if request.url.path == "/all" and first_to_all else 204)

    sender = HttpWebhookSender(
        WebhookTargets(resolver=public_dns),
        httpx.AsyncClient(transport=httpx.MockTransport(receiver)),
    )
    dispatcher = WebhookDispatcher(sql_unit_of_work_factory(engine, clock), sender, clock)
    try:
        assert await dispatcher.dispatch_due() == 2
        assert await dispatcher.dispatch_due() == 0
        clock.advance(timedelta(seconds=10))
        assert await dispatcher.dispatch_due() == 1
    finally:
        await sender.close()
    assert sorted(r.url.path for r in received) == ["/all", "/all", "/other"]

    request = received[-1]
    # Sent to the address checked, addressed to the endpoint's host.
    assert str(request.url) == f"https://{PUBLIC_ADDRESS}/all"
    assert request.headers["Host"] == "hooks.example"
    assert request.extensions["sni_hostname"] == "hooks.example"
    timestamp, signature = (
        p.split("=", 1)[1] for p in request.headers["Keel-Signature"].split(",")
    )
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.content, hashlib.sha256)
    assert signature == mac.hexdigest()
    body = httpx.Response(200, content=request.content).json()
    assert body["type"] == "billing.invoice.paid" and body["data"]["invoiceId"] == "inv-1"
    assert body["organization_id"] == org_id
    async with engine.connect() as conn:
        await set_tenant(conn, org_id)
        row = (await conn.execute(select(webhook_deliveries))).one()
    assert row.attempts == 2 and row.delivered_time is not None


async def test_deleting_an_endpoint_drops_its_deliveries(
    engine: AsyncEngine, admin_engine: AsyncEngine
) -> None:
    handlers = serving(build_handlers(engine, FakeLedger()))
    org_id = str(uuid.uuid4())
    owner = Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))
    endpoint, _ = await handlers.webhooks.create(
        CreateWebhookEndpoint(
            owner,
            url="https://hooks.example/all",
            event_types=[],
            description="",
            request_id=str(uuid.uuid4()),
        )
    )
    await deliver(engine, paid_event(org_id), FakeClock())
    assert await deliveries(admin_engine) == 1
    await handlers.webhooks.delete(DeleteWebhookEndpoint(owner, endpoint.webhook_endpoint_id))
    assert await deliveries(admin_engine) == 0
