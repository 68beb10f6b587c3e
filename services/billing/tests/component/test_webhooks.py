"""Webhook endpoints and deliveries over the wire: refused targets, list, redeliver."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from keel.billing.v1 import (
    usage_service_pb2_grpc,
    webhook_pb2,
    webhook_service_pb2,
    webhook_service_pb2_grpc,
)
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.storage.tables import outbox, webhook_deliveries
from keel_runtime.tenancy import set_tenant

from ..unit.conftest import FakeClock
from .conftest import AsUser
from .test_server import error_info
from .test_usage_limits import batch


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://192.168.0.10/hook",
        "https://[fc00::1]/hook",
        "https://224.0.0.1/hook",
        "https://0.0.0.0/hook",
        "https://localhost:8443/hook",
        "http://hooks.example/hook",
    ],
)
async def test_private_targets_are_refused_at_creation(
    billing: Any, as_user: AsUser, url: str
) -> None:
    stub = webhook_service_pb2_grpc.WebhookServiceStub(billing)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.CreateWebhookEndpoint(
            webhook_service_pb2.CreateWebhookEndpointRequest(
                webhook_endpoint=webhook_pb2.WebhookEndpoint(url=url),
                request_id=str(uuid.uuid4()),
            ),
            metadata=as_user(str(uuid.uuid4())),
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "WEBHOOK_URL_REFUSED"


async def test_deliveries_are_listed_and_redelivered(
    billing: Any, as_user: AsUser, engine: AsyncEngine
) -> None:
    org_id = str(uuid.uuid4())
    stub = webhook_service_pb2_grpc.WebhookServiceStub(billing)
    endpoint = (
        await stub.CreateWebhookEndpoint(
            webhook_service_pb2.CreateWebhookEndpointRequest(
                webhook_endpoint=webhook_pb2.WebhookEndpoint(url="https://hooks.example/x"),
                request_id=str(uuid.uuid4()),
            ),
            metadata=as_user(org_id),
        )
    ).webhook_endpoint
    # The deliveries are written with the events, by the call that records them: listed as
    # soon as it returns (no consumer runs here).
    usage = usage_service_pb2_grpc.UsageServiceStub(billing)
    await usage.RecordUsageBatch(batch("u", 3, 1), metadata=as_user(org_id))

    listed = await stub.ListWebhookDeliveries(
        webhook_service_pb2.ListWebhookDeliveriesRequest(
            webhook_endpoint_id=endpoint.webhook_endpoint_id
        ),
        metadata=as_user(org_id),
    )
    async with engine.connect() as conn:
        event_ids = set((await conn.scalars(select(outbox.c.id))).all())
    assert len(listed.deliveries) == 3
    assert {uuid.UUID(d.event_id) for d in listed.deliveries} == event_ids
    assert {d.event_type for d in listed.deliveries} == {"billing.usage.recorded"}
    assert {d.state for d in listed.deliveries} == {webhook_pb2.WEBHOOK_DELIVERY_STATE_PENDING}
    delivery = listed.deliveries[0]
    # Retries ran out.
    async with engine.begin() as conn:
        await set_tenant(conn, org_id)
        await conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.delivery_id == delivery.delivery_id)
            .values(attempts=12, last_error="HTTP 500", abandon_time=FakeClock()())
        )
    listed = await stub.ListWebhookDeliveries(
        webhook_service_pb2.ListWebhookDeliveriesRequest(
            webhook_endpoint_id=endpoint.webhook_endpoint_id
        ),
        metadata=as_user(org_id),
    )
    [abandoned] = [d for d in listed.deliveries if d.delivery_id == delivery.delivery_id]
    assert abandoned.state == webhook_pb2.WEBHOOK_DELIVERY_STATE_ABANDONED
    assert abandoned.last_error == "HTTP 500" and abandoned.attempts == 12

    redeliver = webhook_service_pb2.RedeliverWebhookRequest(
        webhook_endpoint_id=endpoint.webhook_endpoint_id, delivery_id=delivery.delivery_id
    )
    again = (await stub.RedeliverWebhook(redeliver, metadata=as_user(org_id))).delivery
    assert again.state == webhook_pb2.WEBHOOK_DELIVERY_STATE_PENDING
    assert again.attempts == 0 and again.last_error == ""
    assert again.HasField("next_attempt_time")

    # Another organization sees neither the endpoint nor its deliveries.
    other = as_user(str(uuid.uuid4()))
    for call in (
        stub.RedeliverWebhook(redeliver, metadata=other),
        stub.ListWebhookDeliveries(
            webhook_service_pb2.ListWebhookDeliveriesRequest(
                webhook_endpoint_id=endpoint.webhook_endpoint_id
            ),
            metadata=other,
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    unknown = webhook_service_pb2.RedeliverWebhookRequest(
        webhook_endpoint_id=endpoint.webhook_endpoint_id, delivery_id=str(uuid.uuid4())
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.RedeliverWebhook(unknown, metadata=as_user(org_id))
    assert error_info(raised.value).reason == "WEBHOOK_DELIVERY_NOT_FOUND"
