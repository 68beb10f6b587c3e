"""Cancelling now bills the period so far: a final invoice, and nothing left that blocks."""

from __future__ import annotations

import uuid
from typing import Any

from keel.billing.v1 import (
    invoice_service_pb2,
    invoice_service_pb2_grpc,
    subscription_pb2,
    subscription_service_pb2,
    subscription_service_pb2_grpc,
    usage_service_pb2_grpc,
)

from .conftest import AsUser
from .test_usage_limits import batch, subscribe


async def test_cancel_now_issues_a_final_invoice_and_a_later_close_returns_it(
    billing: Any,
    as_user: AsUser,
) -> None:
    org_id, subscription_id = await subscribe(billing, as_user, "metered", 7)
    usage = usage_service_pb2_grpc.UsageServiceStub(billing)
    await usage.RecordUsageBatch(batch("u", 3, 2), metadata=as_user(org_id))

    canceled = (
        await subscription_service_pb2_grpc.SubscriptionServiceStub(billing).CancelSubscription(
            subscription_service_pb2.CancelSubscriptionRequest(
                subscription_id=subscription_id, at_period_end=False
            ),
            metadata=as_user(org_id),
        )
    ).subscription
    assert canceled.state == subscription_pb2.SUBSCRIPTION_STATE_CANCELED

    invoices = invoice_service_pb2_grpc.InvoiceServiceStub(billing)
    (final,) = (
        await invoices.ListInvoices(
            invoice_service_pb2.ListInvoicesRequest(), metadata=as_user(org_id)
        )
    ).invoices
    assert final.subscription_id == subscription_id
    assert final.total.amount == 6 * 7  # usage to date
    assert final.period_end == canceled.cancel_time

    # Closing the canceled subscription's period is no error: it was closed by the cancel.
    closed = (
        await invoices.CloseBillingPeriod(
            invoice_service_pb2.CloseBillingPeriodRequest(
                subscription_id=subscription_id, request_id=str(uuid.uuid4())
            ),
            metadata=as_user(org_id),
        )
    ).invoice
    assert closed.invoice_id == final.invoice_id
