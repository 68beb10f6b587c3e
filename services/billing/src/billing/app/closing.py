"""Closing a subscription's open period into an invoice: at its end, early, or on cancel."""

from __future__ import annotations

from datetime import datetime

from billing.app.ports import IdFactory, UnitOfWork
from billing.domain.errors import PlanNotFound
from billing.domain.events import InvoiceIssued, SubscriptionCanceled
from billing.domain.invoice import Invoice, issue_invoice
from billing.domain.pricing import Aggregation
from billing.domain.subscription import Subscription


async def close_open_period(
    uow: UnitOfWork, subscription: Subscription, invoice_id: str, now: datetime, *, final: bool
) -> tuple[Invoice, Subscription]:
    """Price the open period of a subscription locked by the caller, who commits.

    Not `final`: the next period opens (or a scheduled cancel takes effect). `final`: the
    subscription is canceled now and the invoice charges the elapsed share of its fees.
    """
    subscription.require_active()
    plan = await uow.plans.get(subscription.plan_id)
    if plan is None:
        raise PlanNotFound("plan not found", plan_id=subscription.plan_id)
    metered = [p for p in plan.prices if not p.is_flat_fee]
    usage = await uow.usage.summarize(
        subscription.org_id,
        subscription.current_period_start,
        subscription.closing_end(now),
        metrics=[p.metric for p in metered],
        aggregations={p.metric: p.aggregation for p in metered},
        fallback=Aggregation.SUM,
    )
    adjustments = await uow.subscriptions.take_adjustments(subscription.subscription_id, invoice_id)
    invoice = issue_invoice(
        invoice_id=invoice_id,
        subscription=subscription,
        plan=plan,
        quantities={m.metric: m.priced_quantity for m in usage},
        adjustments=adjustments,
        now=now,
        final=final,
    )
    await uow.invoices.add(invoice)
    after = (
        subscription.end_now(now)
        if final
        else subscription.advance_period(plan.interval.months, now)
    )
    after = await uow.subscriptions.save(after)
    if after.active:
        await uow.usage.split_totals(
            after.org_id, after.current_period_start, after.current_period_end
        )
    uow.record(InvoiceIssued(invoice))
    if not after.active:
        uow.record(SubscriptionCanceled(after))
    return invoice, after


async def close_ended_periods(
    uow: UnitOfWork, subscription: Subscription, now: datetime, new_id: IdFactory
) -> Subscription:
    """Invoice every period of a subscription (locked by the caller) that ended before now,
    as the period closer would have, so that a change made now never reaches back into them:
    an ended period is billed on the plan in force at its end, with the usage of its time."""
    while subscription.active and subscription.current_period_end <= now:
        _, subscription = await close_open_period(uow, subscription, new_id(), now, final=False)
    return subscription
