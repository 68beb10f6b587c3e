"""The latest, min and avg aggregations priced over the wire, against hand computation."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

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

from .conftest import AsUser
from .test_usage_limits import OPERATOR

# (quantity, milliseconds after the period start), sent in this (not event-time) order.
RECORDS = [(5, 1), (2, 3), (8, 2), (3, 0)]
# By hand: latest (by event time, 3 ms) = 2; min = 2; avg = 18 / 4 = 4.5.
PRICES = {
    "m.latest": (plan_pb2.USAGE_AGGREGATION_LATEST, 7),  # 2 x 7 = 14
    "m.min": (plan_pb2.USAGE_AGGREGATION_MIN, 11),  # 2 x 11 = 22
    "m.avg": (plan_pb2.USAGE_AGGREGATION_AVG, 1),  # 4.5 -> 4 (half to even, not 5)
    "m.avg.five": (plan_pb2.USAGE_AGGREGATION_AVG, 5),  # 22.5 -> 22
    "m.avg.three": (plan_pb2.USAGE_AGGREGATION_AVG, 3),  # 13.5 -> 14
}
EXPECTED = {
    "m.latest": (2, 14),
    "m.min": (2, 22),
    "m.avg": (4, 4),
    "m.avg.five": (4, 22),
    "m.avg.three": (4, 14),
}


async def test_latest_min_and_avg_are_priced_as_computed_by_hand(
    billing: Any, as_user: AsUser
) -> None:
    plan_id = f"agg{uuid.uuid4().hex[:8]}"
    await plan_service_pb2_grpc.PlanServiceStub(billing).CreatePlan(
        plan_service_pb2.CreatePlanRequest(
            plan_id=plan_id,
            plan=plan_pb2.Plan(
                display_name="Aggregations",
                asset=asset_pb2.Asset(code="USD", scale=2),
                interval=plan_pb2.BILLING_INTERVAL_MONTH,
                prices=[
                    plan_pb2.Price(
                        metric=metric,
                        aggregation=aggregation,
                        per_unit=plan_pb2.PerUnitPrice(unit_amount=unit),
                    )
                    for metric, (aggregation, unit) in PRICES.items()
                ],
            ),
        ),
        metadata=OPERATOR,
    )
    org_id = str(uuid.uuid4())
    subscription = (
        await subscription_service_pb2_grpc.SubscriptionServiceStub(billing).CreateSubscription(
            subscription_service_pb2.CreateSubscriptionRequest(
                plan_id=plan_id, request_id=str(uuid.uuid4())
            ),
            metadata=as_user(org_id),
        )
    ).subscription
    start = subscription.current_period_start.ToDatetime()
    usages = []
    for metric in PRICES:
        for i, (quantity, ms) in enumerate(RECORDS):
            usage = usage_service_pb2.UsageInput(
                metric=metric, quantity=quantity, dedup_key=f"{metric}-{i}"
            )
            usage.event_time.FromDatetime(start + timedelta(milliseconds=ms))
            usages.append(usage)
    await usage_service_pb2_grpc.UsageServiceStub(billing).RecordUsageBatch(
        usage_service_pb2.RecordUsageBatchRequest(usages=usages), metadata=as_user(org_id)
    )

    invoice = (
        await invoice_service_pb2_grpc.InvoiceServiceStub(billing).CloseBillingPeriod(
            invoice_service_pb2.CloseBillingPeriodRequest(
                subscription_id=subscription.subscription_id, request_id=str(uuid.uuid4())
            ),
            metadata=as_user(org_id),
        )
    ).invoice

    lines = {line.metric: (line.quantity, line.amount) for line in invoice.lines}
    assert lines == EXPECTED
    assert invoice.total.amount == sum(amount for _, amount in EXPECTED.values())
