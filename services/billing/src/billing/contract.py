"""Domain model <-> keel.billing.v1 resource messages (shared by transport and event codec)."""

from __future__ import annotations

from keel.billing.v1 import (
    invoice_pb2,
    plan_pb2,
    subscription_pb2,
    usage_pb2,
    webhook_pb2,
)
from keel.type.v1 import asset_pb2, money_pb2

from billing.domain.errors import UnsupportedCurrency
from billing.domain.invoice import Invoice, InvoiceLine, InvoiceState, LineKind
from billing.domain.money import Money, currency_scale
from billing.domain.plan import Interval, Plan
from billing.domain.pricing import (
    Aggregation,
    Flat,
    Model,
    Package,
    PerUnit,
    Price,
    Tier,
    Tiered,
    TierMode,
)
from billing.domain.subscription import Subscription, SubscriptionState
from billing.domain.usage import MetricUsage, UsageRecord
from billing.domain.webhook import DeliveryRecord, DeliveryState, WebhookEndpoint
from keel_runtime.errors import FieldViolation, ValidationFailed
from keel_runtime.timestamps import timestamp

_AGGREGATIONS = {
    plan_pb2.USAGE_AGGREGATION_SUM: Aggregation.SUM,
    plan_pb2.USAGE_AGGREGATION_COUNT: Aggregation.COUNT,
    plan_pb2.USAGE_AGGREGATION_MAX: Aggregation.MAX,
    plan_pb2.USAGE_AGGREGATION_UNIQUE_COUNT: Aggregation.UNIQUE_COUNT,
    plan_pb2.USAGE_AGGREGATION_LATEST: Aggregation.LATEST,
    plan_pb2.USAGE_AGGREGATION_MIN: Aggregation.MIN,
    plan_pb2.USAGE_AGGREGATION_AVG: Aggregation.AVG,
}
_AGGREGATIONS_OUT = {v: k for k, v in _AGGREGATIONS.items()}
_INTERVALS = {
    plan_pb2.BILLING_INTERVAL_MONTH: Interval.MONTH,
    plan_pb2.BILLING_INTERVAL_YEAR: Interval.YEAR,
}
_INTERVALS_OUT = {v: k for k, v in _INTERVALS.items()}
_TIER_MODES = {
    plan_pb2.TIER_MODE_GRADUATED: TierMode.GRADUATED,
    plan_pb2.TIER_MODE_VOLUME: TierMode.VOLUME,
}
_TIER_MODES_OUT = {v: k for k, v in _TIER_MODES.items()}
_SUB_STATES = {
    subscription_pb2.SUBSCRIPTION_STATE_ACTIVE: SubscriptionState.ACTIVE,
    subscription_pb2.SUBSCRIPTION_STATE_CANCELED: SubscriptionState.CANCELED,
}
_SUB_STATES_OUT = {v: k for k, v in _SUB_STATES.items()}
_INVOICE_STATES = {
    invoice_pb2.INVOICE_STATE_OPEN: InvoiceState.OPEN,
    invoice_pb2.INVOICE_STATE_PAID: InvoiceState.PAID,
    invoice_pb2.INVOICE_STATE_VOID: InvoiceState.VOID,
    invoice_pb2.INVOICE_STATE_UNCOLLECTIBLE: InvoiceState.UNCOLLECTIBLE,
}
_INVOICE_STATES_OUT = {v: k for k, v in _INVOICE_STATES.items()}
_LINE_KINDS_OUT = {
    LineKind.FLAT: invoice_pb2.INVOICE_LINE_KIND_FLAT,
    LineKind.USAGE: invoice_pb2.INVOICE_LINE_KIND_USAGE,
    LineKind.PRORATION: invoice_pb2.INVOICE_LINE_KIND_PRORATION,
}


def aggregation(value: int) -> Aggregation | None:
    return _AGGREGATIONS.get(value)


def subscription_state(value: int) -> SubscriptionState | None:
    return _SUB_STATES.get(value)


def invoice_state(value: int) -> InvoiceState | None:
    return _INVOICE_STATES.get(value)


# --- money ---------------------------------------------------------------------------
# Billing counts in ISO 4217 currencies, stored as their code: on the wire a currency is a
# keel.type.v1.Asset whose scale is the currency's own (`currency_scale`).


def currency_to_proto(currency: str) -> asset_pb2.Asset:
    return asset_pb2.Asset(code=currency, scale=currency_scale(currency))


def currency_from_proto(asset: asset_pb2.Asset, *, path: str) -> str:
    """The currency an asset names; ValidationFailed on `<path>.scale` when the scale is
    not the currency's (a code billing does not support is the domain's UnsupportedCurrency)."""
    code: str = asset.code
    try:
        scale = currency_scale(code)
    except UnsupportedCurrency:
        return code
    if asset.scale != scale:
        raise ValidationFailed(
            [
                FieldViolation(
                    f"{path}.scale",
                    f"{code} has {scale} decimal places, not {asset.scale}",
                    rule="asset.currency_scale",
                )
            ]
        )
    return code


def money_to_proto(money: Money) -> money_pb2.Money:
    return money_pb2.Money(asset=currency_to_proto(money.currency), amount=money.amount_minor)


# --- plans -------------------------------------------------------------------------------


def _model(price: plan_pb2.Price) -> Model:
    which = price.WhichOneof("model")
    if which == "flat":
        return Flat(price.flat.amount)
    if which == "per_unit":
        return PerUnit(price.per_unit.unit_amount)
    if which == "package":
        return Package(price.package.package_size, price.package.package_amount)
    return Tiered(
        _TIER_MODES[price.tiered.mode],
        tuple(
            Tier(t.up_to if t.HasField("up_to") else None, t.unit_amount, t.flat_amount)
            for t in price.tiered.tiers
        ),
    )


def interval_from_proto(value: int) -> Interval:
    return _INTERVALS[value]


def price_from_proto(p: plan_pb2.Price) -> Price:
    return Price(
        metric=p.metric,
        model=_model(p),
        aggregation=_AGGREGATIONS.get(p.aggregation, Aggregation.SUM),
        included_quantity=p.included_quantity,
        description=p.description,
    )


def _price_to_proto(price: Price) -> plan_pb2.Price:
    out = plan_pb2.Price(
        metric=price.metric,
        aggregation=_AGGREGATIONS_OUT[price.aggregation],
        included_quantity=price.included_quantity,
        description=price.description,
    )
    model = price.model
    if isinstance(model, Flat):
        out.flat.amount = model.amount_minor
    elif isinstance(model, PerUnit):
        out.per_unit.unit_amount = model.unit_amount_minor
    elif isinstance(model, Package):
        out.package.package_size = model.package_size
        out.package.package_amount = model.package_amount_minor
    else:
        out.tiered.mode = _TIER_MODES_OUT[model.mode]
        for tier in model.tiers:
            t = out.tiered.tiers.add(
                unit_amount=tier.unit_amount_minor, flat_amount=tier.flat_amount_minor
            )
            if tier.up_to is not None:
                t.up_to = tier.up_to
    return out


def plan_to_proto(plan: Plan) -> plan_pb2.Plan:
    return plan_pb2.Plan(
        plan_id=plan.plan_id,
        display_name=plan.display_name,
        asset=currency_to_proto(plan.currency),
        interval=_INTERVALS_OUT[plan.interval],
        prices=[_price_to_proto(p) for p in plan.prices],
        state=plan_pb2.PLAN_STATE_ARCHIVED if plan.archived else plan_pb2.PLAN_STATE_ACTIVE,
        create_time=timestamp(plan.create_time),
        archive_time=timestamp(plan.archive_time),
        is_default=plan.is_default,
    )


# --- subscriptions ---------------------------------------------------------------------


def subscription_to_proto(s: Subscription) -> subscription_pb2.Subscription:
    return subscription_pb2.Subscription(
        subscription_id=s.subscription_id,
        organization_id=s.org_id,
        plan_id=s.plan_id,
        state=_SUB_STATES_OUT[s.state],
        current_period_start=timestamp(s.current_period_start),
        current_period_end=timestamp(s.current_period_end),
        create_time=timestamp(s.create_time),
        cancel_time=timestamp(s.cancel_time),
        cancel_at_period_end=s.cancel_at_period_end,
    )


# --- usage -----------------------------------------------------------------------------


def usage_record_to_proto(r: UsageRecord) -> usage_pb2.UsageRecord:
    return usage_pb2.UsageRecord(
        usage_record_id=r.usage_record_id,
        organization_id=r.org_id,
        metric=r.metric,
        quantity=r.quantity,
        dedup_key=r.dedup_key,
        event_time=timestamp(r.event_time),
        distinct_value=r.distinct_value,
        record_time=timestamp(r.record_time),
    )


def metric_usage_to_proto(m: MetricUsage) -> usage_pb2.MetricUsage:
    return usage_pb2.MetricUsage(
        metric=m.metric,
        aggregation=_AGGREGATIONS_OUT[m.aggregation],
        value=m.value,
        record_count=m.record_count,
    )


# --- invoices --------------------------------------------------------------------------


def _line_to_proto(line: InvoiceLine) -> invoice_pb2.InvoiceLine:
    return invoice_pb2.InvoiceLine(
        description=line.description,
        metric=line.metric,
        quantity=line.quantity,
        amount=line.amount_minor,
        kind=_LINE_KINDS_OUT[line.kind],
    )


def invoice_to_proto(i: Invoice) -> invoice_pb2.Invoice:
    return invoice_pb2.Invoice(
        invoice_id=i.invoice_id,
        organization_id=i.org_id,
        subscription_id=i.subscription_id,
        plan_id=i.plan_id,
        state=_INVOICE_STATES_OUT[i.state],
        period_start=timestamp(i.period_start),
        period_end=timestamp(i.period_end),
        lines=[_line_to_proto(line) for line in i.lines],
        total=money_to_proto(i.total),
        issue_time=timestamp(i.issue_time),
        paid_time=timestamp(i.paid_time),
        void_time=timestamp(i.void_time),
        payment_transaction_id=i.payment_transaction_id,
        payment_attempts=i.payment_attempts,
        last_payment_error=i.last_payment_error,
        next_payment_attempt_time=timestamp(i.next_payment_attempt_time),
    )


# --- webhooks --------------------------------------------------------------------------


_DELIVERY_STATES = {
    DeliveryState.PENDING: webhook_pb2.WEBHOOK_DELIVERY_STATE_PENDING,
    DeliveryState.DELIVERED: webhook_pb2.WEBHOOK_DELIVERY_STATE_DELIVERED,
    DeliveryState.ABANDONED: webhook_pb2.WEBHOOK_DELIVERY_STATE_ABANDONED,
}


def delivery_to_proto(d: DeliveryRecord) -> webhook_pb2.WebhookDelivery:
    pending = d.state is DeliveryState.PENDING
    return webhook_pb2.WebhookDelivery(
        delivery_id=d.delivery_id,
        webhook_endpoint_id=d.endpoint_id,
        event_id=d.event_id,
        event_type=d.event_type,
        state=_DELIVERY_STATES[d.state],
        attempts=d.attempts,
        last_error=d.last_error,
        next_attempt_time=timestamp(d.next_attempt_time) if pending else None,
        delivered_time=timestamp(d.delivered_time),
        abandon_time=timestamp(d.abandon_time),
        create_time=timestamp(d.create_time),
    )


def webhook_to_proto(w: WebhookEndpoint) -> webhook_pb2.WebhookEndpoint:
    return webhook_pb2.WebhookEndpoint(
        webhook_endpoint_id=w.webhook_endpoint_id,
        organization_id=w.org_id,
        url=w.url,
        event_types=list(w.event_types),
        description=w.description,
        create_time=timestamp(w.create_time),
    )
