"""Usage timestamps and dedup keys over the wire: nothing acknowledged and then dropped."""

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
    subscription_service_pb2,
    subscription_service_pb2_grpc,
    usage_service_pb2,
    usage_service_pb2_grpc,
)

from .conftest import AsUser
from .test_server import error_info


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def record(
    dedup_key: str, *, quantity: int = 1, at: datetime | None = None, metric: str = "api.calls"
) -> usage_service_pb2.RecordUsageRequest:
    usage = usage_service_pb2.UsageInput(metric=metric, quantity=quantity, dedup_key=dedup_key)
    if at is not None:
        usage.event_time.CopyFrom(timestamp(at))
    return usage_service_pb2.RecordUsageRequest(usage=usage)


async def subscribed(billing: Any, as_user: AsUser) -> tuple[str, str]:
    org_id = str(uuid.uuid4())
    sub = await subscription_service_pb2_grpc.SubscriptionServiceStub(billing).CreateSubscription(
        subscription_service_pb2.CreateSubscriptionRequest(
            plan_id="free", request_id=str(uuid.uuid4())
        ),
        metadata=as_user(org_id),
    )
    return org_id, sub.subscription.subscription_id


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


@pytest.mark.parametrize(
    "offset", [timedelta(days=400), timedelta(hours=1), -timedelta(days=5 * 365)]
)
async def test_usage_outside_the_time_window_is_invalid(
    billing: Any, as_user: AsUser, offset: timedelta
) -> None:
    org_id, _ = await subscribed(billing, as_user)
    usage = usage_service_pb2_grpc.UsageServiceStub(billing)
    error = await refused(
        usage.RecordUsage(record("k", at=datetime.now(UTC) + offset), metadata=as_user(org_id))
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(error).reason == "USAGE_TIME_OUT_OF_RANGE"


async def test_late_usage_inside_an_invoiced_period_is_refused_not_dropped(
    billing: Any, as_user: AsUser
) -> None:
    org_id, subscription_id = await subscribed(billing, as_user)
    usage = usage_service_pb2_grpc.UsageServiceStub(billing)
    before_close = datetime.now(UTC)
    await invoice_service_pb2_grpc.InvoiceServiceStub(billing).CloseBillingPeriod(
        invoice_service_pb2.CloseBillingPeriodRequest(
            subscription_id=subscription_id, request_id=str(uuid.uuid4())
        ),
        metadata=as_user(org_id),
    )
    error = await refused(
        usage.RecordUsage(record("late", at=before_close), metadata=as_user(org_id))
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(error).reason == "USAGE_PERIOD_CLOSED"
    # Usage dated now lands in the open period as usual.
    fresh = await usage.RecordUsage(record("now"), metadata=as_user(org_id))
    assert not fresh.duplicate


async def test_a_dedup_key_replayed_with_another_payload_is_refused(
    billing: Any, as_user: AsUser
) -> None:
    org_id, _ = await subscribed(billing, as_user)
    usage = usage_service_pb2_grpc.UsageServiceStub(billing)
    at = datetime.now(UTC)  # inside the open period, which started at subscribing
    first = await usage.RecordUsage(record("k", quantity=3, at=at), metadata=as_user(org_id))
    again = await usage.RecordUsage(record("k", quantity=3, at=at), metadata=as_user(org_id))
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.usage_record == first.usage_record

    for changed in (
        record("k", quantity=4, at=at),
        record("k", quantity=3, at=at, metric="api.other"),
        record("k", quantity=3, at=at - timedelta(seconds=1)),
    ):
        error = await refused(usage.RecordUsage(changed, metadata=as_user(org_id)))
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS
        info = error_info(error)
        assert (info.reason, info.metadata["dedup_key"]) == ("DEDUP_KEY_REUSED", "k")

    batch = usage_service_pb2.RecordUsageBatchRequest(
        usages=[record("b1").usage, record("k", quantity=9, at=at).usage]
    )
    error = await refused(usage.RecordUsageBatch(batch, metadata=as_user(org_id)))
    assert error_info(error).reason == "DEDUP_KEY_REUSED"
    # The batch is refused as a whole: b1 was not recorded.
    retried = await usage.RecordUsage(record("b1"), metadata=as_user(org_id))
    assert not retried.duplicate
