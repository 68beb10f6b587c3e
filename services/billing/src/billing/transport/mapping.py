"""Request messages -> commands (with the call's caller), and the overview response;
resources: billing.contract."""

from __future__ import annotations

from keel.billing.v1 import (
    billing_overview_service_pb2,
    invoice_service_pb2,
    plan_service_pb2,
    subscription_service_pb2,
    usage_service_pb2,
    webhook_service_pb2,
)
from keel.type.v1 import asset_pb2, money_pb2

from billing.app import commands as c
from billing.app.overview import Overview
from billing.contract import (
    aggregation,
    currency_from_proto,
    interval_from_proto,
    invoice_state,
    money_to_proto,
    price_from_proto,
    subscription_state,
    subscription_to_proto,
)
from keel_runtime.caller import Caller
from keel_runtime.timestamps import field_time

# Plans.


def create_plan(request: plan_service_pb2.CreatePlanRequest, caller: Caller) -> c.CreatePlan:
    plan = request.plan
    return c.CreatePlan(
        caller=caller,
        plan_id=request.plan_id,
        display_name=plan.display_name,
        currency=currency_from_proto(plan.asset, path="plan.asset"),
        interval=interval_from_proto(plan.interval),
        prices=tuple(price_from_proto(p) for p in plan.prices),
        request_id=request.request_id,
    )


def get_plan(request: plan_service_pb2.GetPlanRequest, caller: Caller) -> c.GetPlan:
    return c.GetPlan(caller, request.plan_id)


def list_plans(request: plan_service_pb2.ListPlansRequest, caller: Caller) -> c.ListPlans:
    return c.ListPlans(
        caller,
        show_archived=request.show_archived,
        page_size=request.page_size,
        page_token=request.page_token,
    )


def archive_plan(request: plan_service_pb2.ArchivePlanRequest, caller: Caller) -> c.ArchivePlan:
    return c.ArchivePlan(caller, request.plan_id)


# Subscriptions.


def create_subscription(
    request: subscription_service_pb2.CreateSubscriptionRequest, caller: Caller
) -> c.CreateSubscription:
    return c.CreateSubscription(caller, request.plan_id, request.request_id)


def get_subscription(
    request: subscription_service_pb2.GetSubscriptionRequest, caller: Caller
) -> c.GetSubscription:
    return c.GetSubscription(caller, request.subscription_id)


def list_subscriptions(
    request: subscription_service_pb2.ListSubscriptionsRequest, caller: Caller
) -> c.ListSubscriptions:
    return c.ListSubscriptions(
        caller,
        state=subscription_state(request.state),
        page_size=request.page_size,
        page_token=request.page_token,
    )


def change_plan(
    request: subscription_service_pb2.ChangePlanRequest, caller: Caller
) -> c.ChangePlan:
    return c.ChangePlan(caller, request.subscription_id, request.plan_id, request.request_id)


def cancel_subscription(
    request: subscription_service_pb2.CancelSubscriptionRequest, caller: Caller
) -> c.CancelSubscription:
    return c.CancelSubscription(
        caller, request.subscription_id, at_period_end=request.at_period_end
    )


# Invoices.


def close_billing_period(
    request: invoice_service_pb2.CloseBillingPeriodRequest, caller: Caller
) -> c.CloseBillingPeriod:
    return c.CloseBillingPeriod(caller, request.subscription_id, request.request_id)


def get_invoice(request: invoice_service_pb2.GetInvoiceRequest, caller: Caller) -> c.GetInvoice:
    return c.GetInvoice(caller, request.invoice_id)


def list_invoices(
    request: invoice_service_pb2.ListInvoicesRequest, caller: Caller
) -> c.ListInvoices:
    return c.ListInvoices(
        caller,
        state=invoice_state(request.state),
        page_size=request.page_size,
        page_token=request.page_token,
    )


def pay_invoice(request: invoice_service_pb2.PayInvoiceRequest, caller: Caller) -> c.PayInvoice:
    return c.PayInvoice(caller, request.invoice_id)


def void_invoice(request: invoice_service_pb2.VoidInvoiceRequest, caller: Caller) -> c.VoidInvoice:
    return c.VoidInvoice(caller, request.invoice_id)


# Usage.


def usage_input(m: usage_service_pb2.UsageInput, path: str) -> c.UsageInput:
    """One usage event; ``path`` is where it stands in the request (``usage``, ``usages[2]``)."""
    return c.UsageInput(
        metric=m.metric,
        quantity=m.quantity,
        dedup_key=m.dedup_key,
        event_time=field_time(m, "event_time", path=f"{path}.event_time"),
        distinct_value=m.distinct_value,
    )


def record_usage(request: usage_service_pb2.RecordUsageRequest, caller: Caller) -> c.RecordUsage:
    return c.RecordUsage(caller, usage_input(request.usage, "usage"))


def record_usage_batch(
    request: usage_service_pb2.RecordUsageBatchRequest, caller: Caller
) -> c.RecordUsageBatch:
    return c.RecordUsageBatch(
        caller, tuple(usage_input(u, f"usages[{i}]") for i, u in enumerate(request.usages))
    )


def usage_summary(
    request: usage_service_pb2.GetUsageSummaryRequest, caller: Caller
) -> c.GetUsageSummary:
    return c.GetUsageSummary(
        caller,
        metrics=tuple(request.metrics),
        start=field_time(request, "start_time"),
        end=field_time(request, "end_time"),
        aggregation=aggregation(request.aggregation),
    )


# Webhooks.


def create_webhook_endpoint(
    request: webhook_service_pb2.CreateWebhookEndpointRequest, caller: Caller
) -> c.CreateWebhookEndpoint:
    endpoint = request.webhook_endpoint
    return c.CreateWebhookEndpoint(
        caller,
        url=endpoint.url,
        event_types=tuple(endpoint.event_types),
        description=endpoint.description,
        request_id=request.request_id,
    )


def list_webhook_endpoints(
    request: webhook_service_pb2.ListWebhookEndpointsRequest, caller: Caller
) -> c.ListWebhookEndpoints:
    return c.ListWebhookEndpoints(
        caller, page_size=request.page_size, page_token=request.page_token
    )


def delete_webhook_endpoint(
    request: webhook_service_pb2.DeleteWebhookEndpointRequest, caller: Caller
) -> c.DeleteWebhookEndpoint:
    return c.DeleteWebhookEndpoint(caller, request.webhook_endpoint_id)


def list_webhook_deliveries(
    request: webhook_service_pb2.ListWebhookDeliveriesRequest, caller: Caller
) -> c.ListWebhookDeliveries:
    return c.ListWebhookDeliveries(
        caller,
        request.webhook_endpoint_id,
        page_size=request.page_size,
        page_token=request.page_token,
    )


def redeliver_webhook(
    request: webhook_service_pb2.RedeliverWebhookRequest, caller: Caller
) -> c.RedeliverWebhook:
    return c.RedeliverWebhook(caller, request.webhook_endpoint_id, request.delivery_id)


# The overview.


def billing_overview(
    request: billing_overview_service_pb2.GetBillingOverviewRequest, caller: Caller
) -> c.GetBillingOverview:
    return c.GetBillingOverview(caller)


def overview_to_proto(o: Overview) -> billing_overview_service_pb2.BillingOverview:
    out = billing_overview_service_pb2.BillingOverview(organization_id=o.org_id)
    if o.subscription is not None:
        out.subscription.CopyFrom(subscription_to_proto(o.subscription))
    if o.wallet is not None:
        out.wallet_account_id = o.wallet.account_id
        # The ledger's asset carries its own scale (assets need not be ISO currencies).
        out.wallet_balance.CopyFrom(
            money_pb2.Money(
                asset=asset_pb2.Asset(code=o.wallet.currency, scale=o.wallet.scale),
                amount=o.wallet.available_minor,
            )
        )
    if o.amount_due is not None:
        out.amount_due.CopyFrom(money_to_proto(o.amount_due))
    return out
