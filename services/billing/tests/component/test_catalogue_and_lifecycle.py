"""RPCs no other component test calls: plan listing and archiving, voiding an invoice,
listing and deleting webhook endpoints — each over the wire against PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from keel.billing.v1 import (
    invoice_pb2,
    invoice_service_pb2,
    invoice_service_pb2_grpc,
    plan_service_pb2,
    plan_service_pb2_grpc,
    subscription_service_pb2,
    subscription_service_pb2_grpc,
    webhook_pb2,
    webhook_service_pb2,
    webhook_service_pb2_grpc,
)

from .conftest import AsUser
from .test_ledger_outcomes import open_invoice
from .test_server import error_info
from .test_usage_limits import OPERATOR, subscribe


async def test_archived_plans_leave_the_catalogue_and_take_no_subscriptions(
    billing: Any,
    as_user: AsUser,
) -> None:
    await subscribe(billing, as_user, "keep", 1)
    await subscribe(billing, as_user, "retire", 1)
    plans = plan_service_pb2_grpc.PlanServiceStub(billing)
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # a member may not
        await plans.ArchivePlan(
            plan_service_pb2.ArchivePlanRequest(plan_id="retire"),
            metadata=as_user(str(uuid.uuid4()), roles=("MEMBER",)),
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED

    archived = (
        await plans.ArchivePlan(
            plan_service_pb2.ArchivePlanRequest(plan_id="retire"), metadata=OPERATOR
        )
    ).plan
    assert archived.HasField("archive_time")

    listed = await plans.ListPlans(plan_service_pb2.ListPlansRequest(), metadata=OPERATOR)
    ids = {p.plan_id for p in listed.plans}
    assert "keep" in ids and "retire" not in ids
    everything = await plans.ListPlans(
        plan_service_pb2.ListPlansRequest(show_archived=True), metadata=OPERATOR
    )
    assert {"keep", "retire"} <= {p.plan_id for p in everything.plans}
    first = await plans.ListPlans(
        plan_service_pb2.ListPlansRequest(page_size=1, show_archived=True), metadata=OPERATOR
    )
    assert len(first.plans) == 1 and first.next_page_token

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await subscription_service_pb2_grpc.SubscriptionServiceStub(billing).CreateSubscription(
            subscription_service_pb2.CreateSubscriptionRequest(
                plan_id="retire", request_id=str(uuid.uuid4())
            ),
            metadata=as_user(str(uuid.uuid4())),
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "PLAN_ARCHIVED"


async def test_a_voided_invoice_cannot_be_paid(billing: Any, as_user: AsUser) -> None:
    org_id, invoice_id = await open_invoice(billing, as_user, "voidable")
    invoices = invoice_service_pb2_grpc.InvoiceServiceStub(billing)
    void = invoice_service_pb2.VoidInvoiceRequest(invoice_id=invoice_id)
    voided = (await invoices.VoidInvoice(void, metadata=as_user(org_id))).invoice
    assert voided.state == invoice_pb2.INVOICE_STATE_VOID and voided.HasField("void_time")
    again = (await invoices.VoidInvoice(void, metadata=as_user(org_id))).invoice
    assert again.void_time == voided.void_time  # idempotent

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await invoices.PayInvoice(
            invoice_service_pb2.PayInvoiceRequest(invoice_id=invoice_id),
            metadata=as_user(org_id),
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "INVOICE_NOT_OPEN"
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # another organization's invoice
        await invoices.VoidInvoice(void, metadata=as_user(str(uuid.uuid4())))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_webhook_endpoints_are_listed_newest_first_and_deleted(
    billing: Any, as_user: AsUser
) -> None:
    org_id = str(uuid.uuid4())
    hooks = webhook_service_pb2_grpc.WebhookServiceStub(billing)
    created = []
    for name in ("first", "second"):
        response = await hooks.CreateWebhookEndpoint(
            webhook_service_pb2.CreateWebhookEndpointRequest(
                webhook_endpoint=webhook_pb2.WebhookEndpoint(url=f"https://hooks.example/{name}"),
                request_id=str(uuid.uuid4()),
            ),
            metadata=as_user(org_id),
        )
        created.append(response.webhook_endpoint.webhook_endpoint_id)

    page = await hooks.ListWebhookEndpoints(
        webhook_service_pb2.ListWebhookEndpointsRequest(page_size=1), metadata=as_user(org_id)
    )
    assert [e.webhook_endpoint_id for e in page.webhook_endpoints] == [created[1]]
    rest = await hooks.ListWebhookEndpoints(
        webhook_service_pb2.ListWebhookEndpointsRequest(
            page_size=1, page_token=page.next_page_token
        ),
        metadata=as_user(org_id),
    )
    assert [e.webhook_endpoint_id for e in rest.webhook_endpoints] == [created[0]]

    delete = webhook_service_pb2.DeleteWebhookEndpointRequest(webhook_endpoint_id=created[0])
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # not another organization's to delete
        await hooks.DeleteWebhookEndpoint(delete, metadata=as_user(str(uuid.uuid4())))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    await hooks.DeleteWebhookEndpoint(delete, metadata=as_user(org_id))
    left = await hooks.ListWebhookEndpoints(
        webhook_service_pb2.ListWebhookEndpointsRequest(), metadata=as_user(org_id)
    )
    assert [e.webhook_endpoint_id for e in left.webhook_endpoints] == [created[1]]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await hooks.DeleteWebhookEndpoint(delete, metadata=as_user(org_id))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
