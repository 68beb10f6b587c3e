"""Invoice aggregate: a closed period priced into lines, then paid or voided."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fractions import Fraction

from billing.domain.errors import InvoiceAlreadyPaid, InvoiceNotOpen
from billing.domain.money import Money, check_int64
from billing.domain.periods import prorate
from billing.domain.plan import Plan
from billing.domain.subscription import Adjustment, Subscription


class InvoiceState(enum.Enum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"  # every scheduled payment attempt failed


# Dunning (like Stripe's Smart Retries): after a failed collection, retry this long after
# the first failure; when the last retry fails too, the invoice is UNCOLLECTIBLE.
DEFAULT_RETRY_SCHEDULE = (timedelta(days=1), timedelta(days=3), timedelta(days=5))


class LineKind(enum.Enum):
    FLAT = "flat"
    USAGE = "usage"
    PRORATION = "proration"


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    description: str
    amount_minor: int
    kind: LineKind
    metric: str = ""
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    org_id: str
    subscription_id: str
    plan_id: str
    currency: str
    state: InvoiceState
    period_start: datetime
    period_end: datetime
    lines: tuple[InvoiceLine, ...]
    issue_time: datetime
    paid_time: datetime | None = None
    void_time: datetime | None = None
    payment_transaction_id: str = ""
    payment_attempts: int = 0
    last_payment_error: str = ""
    payment_started_time: datetime | None = None
    """When a payment attempt began (before the ledger call); cleared once settled."""
    payment_checked_time: datetime | None = None
    """When the reconciler found the paid invoice's transfer in the ledger (or flagged it)."""
    reconciliation_issue: str = ""
    """Set when the ledger disagrees with the invoice, e.g. LEDGER_TRANSFER_MISSING."""
    first_payment_failure_time: datetime | None = None
    next_payment_attempt_time: datetime | None = None
    """When dunning tries to collect again; None when no attempt is scheduled."""
    version: int = 0  # of the row this was read from; saving checks it

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    @property
    def total(self) -> Money:
        return Money(self.currency, self.total_minor)

    def require_payable(self) -> None:
        # An uncollectible invoice may still be paid by hand (nothing retries it any more).
        if self.state not in (InvoiceState.OPEN, InvoiceState.UNCOLLECTIBLE):
            raise InvoiceNotOpen("invoice is not open", invoice_id=self.invoice_id)

    def mark_paid(self, transaction_id: str, now: datetime) -> Invoice:
        """Record a completed ledger payment. Also from VOID: money that moved while the
        invoice was being voided is the truth, and the invoice must say so."""
        if self.state is InvoiceState.PAID:
            return self
        return replace(
            self,
            state=InvoiceState.PAID,
            paid_time=now,
            void_time=None,
            payment_transaction_id=transaction_id,
            payment_attempts=self.payment_attempts + 1,
            last_payment_error="",
            payment_started_time=None,
            next_payment_attempt_time=None,
        )

    def mark_payment_failed(
        self,
        reason: str,
        now: datetime,
        schedule: Sequence[timedelta] = DEFAULT_RETRY_SCHEDULE,
    ) -> Invoice:
        """Count a failed attempt and schedule the next one: `schedule[k]` after the first
        failure for the k-th retry; past the last retry an open invoice is UNCOLLECTIBLE."""
        self.require_payable()
        first = self.first_payment_failure_time or now
        earlier = self.payment_attempts  # failed attempts before this one
        failed = replace(
            self,
            payment_attempts=self.payment_attempts + 1,
            last_payment_error=reason,
            payment_started_time=None,
            first_payment_failure_time=first,
            next_payment_attempt_time=None,
        )
        if self.state is not InvoiceState.OPEN:
            return failed
        if earlier < len(schedule):
            # Never earlier than now: a late retry (job down for a while) is not rushed twice.
            retry_at = max(first + schedule[earlier], now)
            return replace(failed, next_payment_attempt_time=retry_at)
        return replace(failed, state=InvoiceState.UNCOLLECTIBLE)

    def void(self, now: datetime) -> Invoice:
        if self.state is InvoiceState.VOID:
            return self
        if self.state is InvoiceState.PAID:
            raise InvoiceAlreadyPaid("a paid invoice cannot be voided", invoice_id=self.invoice_id)
        return replace(self, state=InvoiceState.VOID, void_time=now, next_payment_attempt_time=None)


def price_period(
    plan: Plan,
    quantities: Mapping[str, int | Fraction],
    adjustments: tuple[Adjustment, ...],
    *,
    fee_share: tuple[int, int] | None = None,
) -> tuple[InvoiceLine, ...]:
    """Invoice lines for one period: flat fees, one line per priced metric, prorations.

    `fee_share` (elapsed, whole seconds) prorates the flat fees of a period cut short.
    """
    lines: list[InvoiceLine] = []
    for price in plan.prices:
        if price.is_flat_fee:
            desc = price.description or f"{plan.display_name} plan"
            amount = price.amount_for(0)
            if fee_share is not None:
                amount = prorate(amount, *fee_share)
                desc = f"{desc} (prorated)"
            lines.append(InvoiceLine(desc, amount, LineKind.FLAT))
            continue
        quantity = quantities.get(price.metric, 0)
        lines.append(
            InvoiceLine(
                description=price.description or price.metric,
                amount_minor=check_int64(price.amount_for(quantity), price.metric),
                kind=LineKind.USAGE,
                metric=price.metric,
                # An average shows rounded half to even; its amount was priced exactly.
                quantity=round(quantity),
            )
        )
    lines.extend(
        InvoiceLine(a.description, a.amount_minor, LineKind.PRORATION) for a in adjustments
    )
    check_int64(sum(line.amount_minor for line in lines), "invoice total")
    return tuple(lines)


def issue_invoice(
    *,
    invoice_id: str,
    subscription: Subscription,
    plan: Plan,
    quantities: Mapping[str, int | Fraction],
    adjustments: tuple[Adjustment, ...],
    now: datetime,
    final: bool = False,
) -> Invoice:
    """The invoice of the subscription's open period, closed now (or at its end).

    A `final` invoice (cancelled now) charges the elapsed share of the flat fees.
    """
    fee_share = subscription.elapsed_share(now) if final else None
    return Invoice(
        invoice_id=invoice_id,
        org_id=subscription.org_id,
        subscription_id=subscription.subscription_id,
        plan_id=plan.plan_id,
        currency=plan.currency,
        state=InvoiceState.OPEN,
        period_start=subscription.current_period_start,
        period_end=subscription.closing_end(now),
        lines=price_period(plan, quantities, adjustments, fee_share=fee_share),
        issue_time=now,
    )
