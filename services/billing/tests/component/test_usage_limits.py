"""Usage ingestion over the wire: amount bounds, so every period can always be invoiced."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from keel.billing.v1 import (
    invoice_service_pb2,
    invoice_service_pb2_grpc,
    plan_pb2,
    plan_service_pb2,
    plan_service_pb2_grpc,
    subscription_service_pb2,
    subscription_service_pb2_grpc,
    usage_service_pb2,
    usage_service_pb2_grpc,
)
from keel.type.v1 import asset_pb2
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_devstack.routed_channel import as_workload
from keel_runtime.db import UnitOfWork

from .conftest import AsUser
from .test_server import error_info

OPERATOR = as_workload("operator")
"""The platform operator: its certificate, no token (plans are the platform's)."""


async def subscribe(
    billing: Any, as_user: AsUser, plan_id: str, unit_amount: int
) -> tuple[str, str]:
    """A new organization on a per-unit plan of its own; (org id, subscription id)."""
    await plan_service_pb2_grpc.PlanServiceStub(billing).CreatePlan(
        plan_service_pb2.CreatePlanRequest(
            plan_id=plan_id,
            plan=plan_pb2.Plan(
                display_name=plan_id,
                asset=asset_pb2.Asset(code="USD", scale=2),
                interval=plan_pb2.BILLING_INTERVAL_MONTH,
                prices=[
                    plan_pb2.Price(
                        metric="api.calls",
                        per_unit=plan_pb2.PerUnitPrice(unit_amount=unit_amount),
                    )
                ],
            ),
        ),
        metadata=OPERATOR,
    )
    org_id = str(uuid.uuid4())
    sub = await subscription_service_pb2_grpc.SubscriptionServiceStub(billing).CreateSubscription(
        subscription_service_pb2.CreateSubscriptionRequest(
            plan_id=plan_id, request_id=str(uuid.uuid4())
        ),
        metadata=as_user(org_id),
    )
    return org_id, sub.subscription.subscription_id


def batch(prefix: str, count: int, quantity: int) -> usage_service_pb2.RecordUsageBatchRequest:
    return usage_service_pb2.RecordUsageBatchRequest(
        usages=[
            usage_service_pb2.UsageInput(
                metric="api.calls", quantity=quantity, dedup_key=f"{prefix}{i}"
            )
            for i in range(count)
        ]
    )


async def test_usage_whose_price_would_overflow_is_refused_and_the_period_still_closes(
    billing: Any,
    as_user: AsUser,
) -> None:
    org_id, subscription_id = await subscribe(billing, as_user, "pricey", 10_000)
    usage = usage_service_pb2_grpc.UsageServiceStub(billing)
    await usage.RecordUsageBatch(batch("ok", 10, 1_000), metadata=as_user(org_id))

    # 1,000 events of 10^12 at 10,000 per unit: 10^19 minor units, past int64.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await usage.RecordUsageBatch(batch("big", 1000, 10**12), metadata=as_user(org_id))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(raised.value)
    assert info.reason == "USAGE_LIMIT_EXCEEDED"
    assert info.metadata["metric"] == "api.calls"

    invoices = invoice_service_pb2_grpc.InvoiceServiceStub(billing)
    invoice = (
        await invoices.CloseBillingPeriod(
            invoice_service_pb2.CloseBillingPeriodRequest(
                subscription_id=subscription_id, request_id=str(uuid.uuid4())
            ),
            metadata=as_user(org_id),
        )
    ).invoice
    assert invoice.total.amount == 10 * 1_000 * 10_000


async def test_a_periods_quantity_of_one_metric_is_bounded(billing: Any, as_user: AsUser) -> None:
    org_id, _ = await subscribe(billing, as_user, "cheap", 1)
    usage = usage_service_pb2_grpc.UsageServiceStub(billing)
    # Up to 10^15 units of a metric in one period is fine ...
    recorded = await usage.RecordUsageBatch(batch("a", 1000, 10**12), metadata=as_user(org_id))
    assert recorded.recorded_count == 1000
    # ... one more unit is not.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await usage.RecordUsage(
            usage_service_pb2.RecordUsageRequest(
                usage=usage_service_pb2.UsageInput(metric="api.calls", quantity=1, dedup_key="b")
            ),
            metadata=as_user(org_id),
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "USAGE_LIMIT_EXCEEDED"
    summary = await usage.GetUsageSummary(
        usage_service_pb2.GetUsageSummaryRequest(), metadata=as_user(org_id)
    )
    assert [(m.metric, m.value) for m in summary.metrics] == [("api.calls", 10**15)]


async def test_a_plan_change_that_would_make_the_period_unpriceable_is_refused(
    billing: Any,
    as_user: AsUser,
) -> None:
    org_id, subscription_id = await subscribe(billing, as_user, "base", 1)
    await subscribe(billing, as_user, "premium", 10_000)
    usage = usage_service_pb2_grpc.UsageServiceStub(billing)
    await usage.RecordUsageBatch(batch("a", 1000, 10**12), metadata=as_user(org_id))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await subscription_service_pb2_grpc.SubscriptionServiceStub(billing).ChangePlan(
            subscription_service_pb2.ChangePlanRequest(
                subscription_id=subscription_id, plan_id="premium", request_id=str(uuid.uuid4())
            ),
            metadata=as_user(org_id),
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(raised.value).reason == "USAGE_LIMIT_EXCEEDED"


async def test_a_summary_past_64_bits_is_refused_not_an_internal_error(
    billing: Any, as_user: AsUser, engine: AsyncEngine
) -> None:
    """Without a subscription nothing bounds a period's quantity: about 9,200 batches of the
    largest events take one metric's sum past 2^63 - 1, which no int64 carries."""
    org_id = str(uuid.uuid4())
    usage = usage_service_pb2_grpc.UsageServiceStub(billing)
    await usage.RecordUsageBatch(batch("a", 1000, 10**12), metadata=as_user(org_id))
    # The batches before the last, folded into the running total rather than sent one by one.
    async with UnitOfWork(engine, org_id=org_id) as uow:
        await uow.connection.execute(
            text("UPDATE usage_aggregates SET quantity_sum = :sum"), {"sum": 2**63 - 10**14}
        )
        await uow.commit()
    await usage.RecordUsageBatch(batch("b", 1000, 10**12), metadata=as_user(org_id))

    now = datetime.now(UTC)
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(now - timedelta(days=1))
    end.FromDatetime(now + timedelta(days=1))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await usage.GetUsageSummary(
            usage_service_pb2.GetUsageSummaryRequest(start_time=start, end_time=end),
            metadata=as_user(org_id),
        )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(raised.value)
    assert info.reason == "USAGE_LIMIT_EXCEEDED"
    assert info.metadata["metric"] == "api.calls"


async def test_a_plan_whose_flat_fees_no_invoice_can_carry_is_refused(billing: Any) -> None:
    """Two flat fees of 2^63 - 1 each: every period of the plan would fail to close (its
    total does not fit 64 bits), and the subscription could be neither invoiced nor
    cancelled."""
    fee = plan_pb2.Price(flat=plan_pb2.FlatPrice(amount=2**63 - 1))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await plan_service_pb2_grpc.PlanServiceStub(billing).CreatePlan(
            plan_service_pb2.CreatePlanRequest(
                plan_id=f"fees-{uuid.uuid4().hex[:8]}",
                plan=plan_pb2.Plan(
                    display_name="fees",
                    asset=asset_pb2.Asset(code="USD", scale=2),
                    interval=plan_pb2.BILLING_INTERVAL_MONTH,
                    prices=[fee, plan_pb2.Price(description="again", flat=fee.flat)],
                ),
            ),
            metadata=OPERATOR,
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(raised.value).reason == "INVALID_PLAN"
