"""Usage records and their aggregation per metric and period."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from billing.domain.errors import (
    AmountOverflow,
    DedupKeyReused,
    UsageLimitExceeded,
    UsagePeriodClosed,
    UsageQuantityOutOfRange,
    UsageTimeOutOfRange,
)
from billing.domain.invoice import price_period
from billing.domain.money import INT64_MAX, MAX_PERIOD_AMOUNT
from billing.domain.plan import Plan
from billing.domain.pricing import Aggregation
from billing.domain.subscription import Adjustment

# Bounds that keep every period priceable in signed 64-bit minor units (README, "Limits").
MAX_EVENT_QUANTITY = 10**12
"""One usage event (the contract's bound too)."""
MAX_PERIOD_QUANTITY = 10**15
"""Sum of one metric's quantities in one billing period."""
FUTURE_TOLERANCE = timedelta(minutes=5)
"""How far ahead of billing's clock an event may be dated (clock skew)."""
MAX_LATENESS = timedelta(days=35)
"""How old an event may be (and never older than the open period)."""


@dataclass(frozen=True, slots=True)
class UsageRecord:
    usage_record_id: str
    org_id: str
    metric: str
    quantity: int
    dedup_key: str
    event_time: datetime
    record_time: datetime
    distinct_value: str = ""


@dataclass(frozen=True, slots=True)
class MetricUsage:
    metric: str
    aggregation: Aggregation
    value: int
    """The aggregated quantity; for AVG the average rounded half to even (for display)."""
    record_count: int
    total: int = 0
    """Sum of the quantities (what an exact average divides)."""

    @property
    def priced_quantity(self) -> int | Fraction:
        """What the price applies to: the exact average for AVG, else `value`."""
        if self.aggregation is Aggregation.AVG and self.record_count:
            return Fraction(self.total, self.record_count)
        return self.value


@dataclass(frozen=True, slots=True)
class TallyPeriod:
    """Under which `period_start` the running totals count a newly recorded event: the open
    period's start, or its end for an event dated past it (the start of the period after).
    Without a subscription, `start` alone: where billing stopped (or the epoch)."""

    start: datetime
    end: datetime | None = None

    def start_for(self, event_time: datetime) -> datetime:
        if self.end is not None and event_time >= self.end:
            return self.end
        return self.start


def aggregate(records: Iterable[UsageRecord], aggregation: Aggregation) -> tuple[int, int]:
    """(value, record count) of records by `aggregation`; the reference the SQL must match."""
    items = list(records)
    quantities = [r.quantity for r in items]
    if aggregation is Aggregation.SUM:
        value = sum(quantities)
    elif aggregation is Aggregation.COUNT:
        value = len(items)
    elif aggregation is Aggregation.MAX:
        value = max(quantities, default=0)
    elif aggregation is Aggregation.MIN:
        value = min(quantities, default=0)
    elif aggregation is Aggregation.LATEST:
        latest = max(
            items, key=lambda r: (r.event_time, r.record_time, r.usage_record_id), default=None
        )
        value = latest.quantity if latest else 0
    elif aggregation is Aggregation.AVG:
        value = round(Fraction(sum(quantities), len(items))) if items else 0
    else:
        value = len({r.distinct_value for r in items if r.distinct_value})
    return value, len(items)


def check_event_quantity(record: UsageRecord) -> None:
    if not 0 <= record.quantity <= MAX_EVENT_QUANTITY:
        raise UsageQuantityOutOfRange(
            f"quantity must be between 0 and {MAX_EVENT_QUANTITY}",
            metric=record.metric,
            dedup_key=record.dedup_key,
        )


def check_summary_fits(usage: MetricUsage) -> None:
    """A summary carries each metric's value and count in 64 bits. Only usage outside a
    subscription, which no period bound caps, sums past them (a long range of it)."""
    if max(usage.value, usage.record_count) > INT64_MAX:
        raise UsageLimitExceeded(
            f"{usage.metric}: the usage in this range sums past {INT64_MAX}: ask for a"
            " shorter range",
            metric=usage.metric,
            limit=str(INT64_MAX),
        )


def projected_value(current: int, aggregation: Aggregation, new: Sequence[UsageRecord]) -> int:
    """An upper bound of a metric's aggregated value once `new` records join `current`."""
    if aggregation is Aggregation.SUM:
        return current + sum(r.quantity for r in new)
    if aggregation is Aggregation.COUNT:
        return current + len(new)
    if aggregation in (Aggregation.MAX, Aggregation.LATEST, Aggregation.MIN, Aggregation.AVG):
        # Each of these is at most the largest single quantity of the period.
        return max([current, *(r.quantity for r in new)])
    return current + len({r.distinct_value for r in new if r.distinct_value})


def check_period_bounds(
    *,
    plan: Plan | None,
    sums: Mapping[str, int],
    priced: Mapping[str, int],
    adjustments: tuple[Adjustment, ...],
    new: Sequence[UsageRecord],
) -> None:
    """Refuse `new` records that would leave the open period impossible to invoice.

    `sums` holds the period's quantity sum per metric of `new`; `priced` the plan's
    aggregated value per priced metric, both before `new`.
    """
    for metric in sorted({r.metric for r in new}):
        mine = [r for r in new if r.metric == metric]
        if projected_value(sums.get(metric, 0), Aggregation.SUM, mine) > MAX_PERIOD_QUANTITY:
            raise UsageLimitExceeded(
                f"{metric}: a billing period holds at most {MAX_PERIOD_QUANTITY} units",
                metric=metric,
                limit=str(MAX_PERIOD_QUANTITY),
            )
    if plan is None:
        return
    quantities = {
        p.metric: projected_value(
            priced.get(p.metric, 0), p.aggregation, [r for r in new if r.metric == p.metric]
        )
        for p in plan.prices
        if not p.is_flat_fee
    }
    try:
        lines = price_period(plan, quantities, adjustments)
    except AmountOverflow:
        lines = None
    total = sum(line.amount_minor for line in lines) if lines is not None else None
    if total is None or total > MAX_PERIOD_AMOUNT:
        metric = next(iter(sorted({r.metric for r in new if r.metric in quantities})), "")
        raise UsageLimitExceeded(
            f"the billing period would cost more than {MAX_PERIOD_AMOUNT} minor units",
            metric=metric,
            limit=str(MAX_PERIOD_AMOUNT),
        )


def check_event_time(record: UsageRecord, now: datetime, open_since: datetime | None) -> None:
    """Refuse an event dated outside the window, or inside a period already invoiced
    (`open_since`: start of the open period, or end of the last invoiced one)."""
    if not now - MAX_LATENESS <= record.event_time <= now + FUTURE_TOLERANCE:
        raise UsageTimeOutOfRange(
            "event_time must be at most 5 minutes ahead and 35 days old",
            dedup_key=record.dedup_key,
            field="event_time",
        )
    if open_since is not None and record.event_time < open_since:
        raise UsagePeriodClosed(
            "event_time is before the open billing period: that time is invoiced already "
            "(or was never billable)",
            dedup_key=record.dedup_key,
            open_period_start=open_since.isoformat(),
        )


def check_same_payload(first: UsageRecord, again: UsageRecord, *, compare_time: bool) -> None:
    """A replayed dedup key must carry the first payload (its time only when given)."""
    same = (first.metric, first.quantity, first.distinct_value) == (
        again.metric,
        again.quantity,
        again.distinct_value,
    ) and (not compare_time or first.event_time == again.event_time)
    if not same:
        raise DedupKeyReused(
            "the dedup key was recorded with a different payload", dedup_key=again.dedup_key
        )
