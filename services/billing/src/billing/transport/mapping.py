"""Request messages -> handler inputs, and the overview response; resources: billing.contract."""

from __future__ import annotations

from keel.billing.v1 import billing_overview_service_pb2, money_pb2, plan_pb2, usage_service_pb2

from billing.app.overview import Overview
from billing.app.plans import CreatePlan
from billing.app.usage import UsageInput
from billing.contract import (
    from_ts,
    interval_from_proto,
    money_to_proto,
    price_from_proto,
    subscription_to_proto,
)


def create_plan_command(plan_id: str, plan: plan_pb2.Plan, request_id: str = "") -> CreatePlan:
    return CreatePlan(
        plan_id=plan_id,
        display_name=plan.display_name,
        currency=plan.currency,
        interval=interval_from_proto(plan.interval),
        prices=tuple(price_from_proto(p) for p in plan.prices),
        request_id=request_id,
    )


def usage_input(m: usage_service_pb2.UsageInput) -> UsageInput:
    return UsageInput(
        metric=m.metric,
        quantity=m.quantity,
        dedup_key=m.dedup_key,
        event_time=from_ts(m.event_time) if m.HasField("event_time") else None,
        distinct_value=m.distinct_value,
    )


def overview_to_proto(o: Overview) -> billing_overview_service_pb2.BillingOverview:
    out = billing_overview_service_pb2.BillingOverview(organization_id=o.org_id)
    if o.subscription is not None:
        out.subscription.CopyFrom(subscription_to_proto(o.subscription))
    if o.wallet is not None:
        out.wallet_account_id = o.wallet.account_id
        # The ledger's asset carries its own scale (assets need not be ISO currencies).
        out.wallet_balance.CopyFrom(
            money_pb2.Money(
                currency=o.wallet.currency,
                amount_minor=o.wallet.available_minor,
                scale=o.wallet.scale,
            )
        )
    if o.amount_due is not None:
        out.amount_due.CopyFrom(money_to_proto(o.amount_due))
    return out
