"""Recorders racing over the wire on the same metrics and keys: the running totals the
summary reads count every key once, exactly."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from keel.billing.v1 import (
    plan_pb2,
    subscription_service_pb2,
    subscription_service_pb2_grpc,
    usage_service_pb2,
    usage_service_pb2_grpc,
)

from .conftest import AsUser

RECORDERS = 6
KEYS = 40


def usage_of(key: int) -> usage_service_pb2.UsageInput:
    """Every recorder sends a key with the same payload: a replay, never a conflict."""
    return usage_service_pb2.UsageInput(
        metric="calls" if key % 4 else "seats",
        quantity=key * 7 % 23,
        dedup_key=f"k{key}",
        distinct_value=f"user-{key % 9}" if key % 5 else "",
    )


def by_hand(metric: str) -> dict[int, int]:
    """(aggregation -> value) over the keys of `metric`, each once."""
    usages = [usage_of(k) for k in range(KEYS) if usage_of(k).metric == metric]
    quantities = [u.quantity for u in usages]
    return {
        plan_pb2.USAGE_AGGREGATION_SUM: sum(quantities),
        plan_pb2.USAGE_AGGREGATION_COUNT: len(usages),
        plan_pb2.USAGE_AGGREGATION_MAX: max(quantities),
        plan_pb2.USAGE_AGGREGATION_MIN: min(quantities),
        plan_pb2.USAGE_AGGREGATION_UNIQUE_COUNT: len(
            {u.distinct_value for u in usages if u.distinct_value}
        ),
    }


async def recorder(stub: Any, metadata: Any, seed: int) -> None:
    """Every key, in an order of its own: half one by one, the rest in one batch."""
    keys = list(range(KEYS))
    random.Random(seed).shuffle(keys)
    singles, batch = keys[: KEYS // 2], keys[KEYS // 2 :]
    for key in singles:
        await stub.RecordUsage(
            usage_service_pb2.RecordUsageRequest(usage=usage_of(key)), metadata=metadata
        )
    await stub.RecordUsageBatch(
        usage_service_pb2.RecordUsageBatchRequest(usages=[usage_of(k) for k in batch]),
        metadata=metadata,
    )


@pytest.mark.parametrize("subscribed", [True, False], ids=["subscribed", "unsubscribed"])
async def test_racing_recorders_count_each_key_once(
    billing: Any, as_user: AsUser, subscribed: bool
) -> None:
    org_id = str(uuid.uuid4())
    if subscribed:  # recorders then queue on the subscription; without, on the totals
        await subscription_service_pb2_grpc.SubscriptionServiceStub(billing).CreateSubscription(
            subscription_service_pb2.CreateSubscriptionRequest(
                plan_id="free", request_id=str(uuid.uuid4())
            ),
            metadata=as_user(org_id),
        )
    stub = usage_service_pb2_grpc.UsageServiceStub(billing)
    now = datetime.now(UTC)
    await asyncio.gather(*(recorder(stub, as_user(org_id), seed) for seed in range(RECORDERS)))

    for metric in ("calls", "seats"):
        for aggregation, value in by_hand(metric).items():
            request = usage_service_pb2.GetUsageSummaryRequest(
                metrics=[metric], aggregation=aggregation
            )
            request.start_time.FromDatetime(now - timedelta(days=1))
            request.end_time.FromDatetime(now + timedelta(days=1))
            summary = await stub.GetUsageSummary(request, metadata=as_user(org_id))
            (found,) = summary.metrics
            count = by_hand(metric)[plan_pb2.USAGE_AGGREGATION_COUNT]
            assert (found.value, found.record_count) == (value, count), (metric, aggregation)
