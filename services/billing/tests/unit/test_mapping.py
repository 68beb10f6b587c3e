"""Request messages -> commands: every field reaches the command, with the call's caller."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from keel.billing.v1 import (
    plan_pb2,
    plan_service_pb2,
    subscription_pb2,
    subscription_service_pb2,
    usage_service_pb2,
    webhook_pb2,
    webhook_service_pb2,
)
from keel.type.v1 import asset_pb2

from billing.app import commands as c
from billing.contract import money_to_proto, plan_to_proto
from billing.domain.money import Money
from billing.domain.plan import Interval
from billing.domain.pricing import Aggregation
from billing.domain.subscription import SubscriptionState
from billing.transport import mapping
from keel_runtime.errors import ValidationFailed

from .conftest import FREE, operator, owner

T0 = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def timestamp(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


def test_create_plan_takes_the_plan_its_id_and_request_id() -> None:
    request = plan_service_pb2.CreatePlanRequest(
        plan_id="team",
        request_id="r-1",
        plan=plan_pb2.Plan(
            display_name="Team",
            asset=asset_pb2.Asset(code="USD", scale=2),
            interval=plan_pb2.BILLING_INTERVAL_YEAR,
        ),
    )
    command = mapping.create_plan(request, operator())
    assert command == c.CreatePlan(operator(), "team", "Team", "USD", Interval.YEAR, (), "r-1")


def _plan_in(code: str, scale: int) -> plan_service_pb2.CreatePlanRequest:
    return plan_service_pb2.CreatePlanRequest(
        plan_id="team",
        plan=plan_pb2.Plan(
            asset=asset_pb2.Asset(code=code, scale=scale), interval=plan_pb2.BILLING_INTERVAL_YEAR
        ),
    )


def test_a_plan_asset_is_a_currency_at_its_own_scale() -> None:
    assert mapping.create_plan(_plan_in("JPY", 0), operator()).currency == "JPY"
    assert mapping.create_plan(_plan_in("KWD", 3), operator()).currency == "KWD"
    for code, scale in (("USD", 3), ("JPY", 2), ("KWD", 2)):
        with pytest.raises(ValidationFailed) as raised:
            mapping.create_plan(_plan_in(code, scale), operator())
        assert [v.field for v in raised.value.violations] == ["plan.asset.scale"]
    # A code billing does not bill in is the domain's to refuse (UNSUPPORTED_CURRENCY).
    assert mapping.create_plan(_plan_in("CREDITS", 0), operator()).currency == "CREDITS"


def test_amounts_go_out_with_the_currency_as_an_asset() -> None:
    money = money_to_proto(Money("JPY", 1500))
    assert (money.asset.code, money.asset.scale, money.amount) == ("JPY", 0, 1500)
    plan = plan_to_proto(FREE)
    assert (plan.asset.code, plan.asset.scale) == ("USD", 2)
    assert plan.prices[0].per_unit.unit_amount == 5


def test_subscription_commands_carry_their_fields() -> None:
    change = subscription_service_pb2.ChangePlanRequest(
        subscription_id="s-1", plan_id="team", request_id="r-2"
    )
    assert mapping.change_plan(change, owner()) == c.ChangePlan(owner(), "s-1", "team", "r-2")
    cancel = subscription_service_pb2.CancelSubscriptionRequest(
        subscription_id="s-1", at_period_end=True
    )
    assert mapping.cancel_subscription(cancel, owner()) == c.CancelSubscription(
        owner(), "s-1", at_period_end=True
    )


def test_an_unspecified_state_lists_every_state() -> None:
    every = subscription_service_pb2.ListSubscriptionsRequest(page_size=5, page_token="t")
    assert mapping.list_subscriptions(every, owner()) == c.ListSubscriptions(
        owner(), state=None, page_size=5, page_token="t"
    )
    active = subscription_service_pb2.ListSubscriptionsRequest(
        state=subscription_pb2.SUBSCRIPTION_STATE_ACTIVE
    )
    assert mapping.list_subscriptions(active, owner()).state is SubscriptionState.ACTIVE


def test_usage_without_times_leaves_them_to_the_handler() -> None:
    usage = usage_service_pb2.UsageInput(metric="m", quantity=3, dedup_key="k")
    recorded = mapping.record_usage(usage_service_pb2.RecordUsageRequest(usage=usage), owner())
    assert recorded == c.RecordUsage(owner(), c.UsageInput("m", 3, "k", event_time=None))
    summary = mapping.usage_summary(usage_service_pb2.GetUsageSummaryRequest(), owner())
    assert (summary.start, summary.end, summary.aggregation) == (None, None, None)


def test_usage_times_and_aggregation_are_kept() -> None:
    usage = usage_service_pb2.UsageInput(
        metric="m", quantity=1, dedup_key="k", event_time=timestamp(T0), distinct_value="u"
    )
    batch = usage_service_pb2.RecordUsageBatchRequest(usages=[usage, usage])
    command = mapping.record_usage_batch(batch, owner())
    assert command.usages == (c.UsageInput("m", 1, "k", T0, "u"),) * 2
    request = usage_service_pb2.GetUsageSummaryRequest(
        metrics=["m"],
        start_time=timestamp(T0),
        end_time=timestamp(T0.replace(day=2)),
        aggregation=plan_pb2.USAGE_AGGREGATION_MAX,
    )
    assert mapping.usage_summary(request, owner()) == c.GetUsageSummary(
        owner(), ("m",), T0, T0.replace(day=2), Aggregation.MAX
    )


def test_webhook_endpoint_create_takes_the_endpoint_and_request_id() -> None:
    request = webhook_service_pb2.CreateWebhookEndpointRequest(
        request_id="r-3",
        webhook_endpoint=webhook_pb2.WebhookEndpoint(
            url="https://example.com/h", event_types=["a", "b"], description="d"
        ),
    )
    assert mapping.create_webhook_endpoint(request, owner()) == c.CreateWebhookEndpoint(
        owner(), "https://example.com/h", ("a", "b"), "d", "r-3"
    )
