"""Usage commands and queries: record (idempotent on dedup key), batch, summarize."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from billing.app.access import require_usage_reporter
from billing.app.commands import GetUsageSummary, RecordUsage, RecordUsageBatch, UsageInput
from billing.app.ports import Clock, IdFactory, UnitOfWork, UnitOfWorkFactory
from billing.domain.errors import (
    InvalidPeriod,
    NoActiveSubscription,
    UsagePeriodClosed,
    UsageTimeOutOfRange,
)
from billing.domain.events import UsageRecorded
from billing.domain.plan import Plan
from billing.domain.pricing import Aggregation
from billing.domain.subscription import Adjustment, Subscription
from billing.domain.usage import (
    MetricUsage,
    TallyPeriod,
    UsageRecord,
    check_event_quantity,
    check_event_time,
    check_period_bounds,
    check_same_payload,
    check_summary_fits,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Where the running totals of an organization never billed count its usage."""


class Late(enum.Enum):
    """What to do with an event dated outside the window or in an invoiced period."""

    REFUSE = "refuse"  # callers of the API are told (and may fix the time)
    CARRY = "carry"  # other services' events are billed in the open period, dated now


@dataclass(frozen=True, slots=True)
class UsageSummary:
    start: datetime
    end: datetime
    metrics: list[MetricUsage]


class UsageHandlers:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        new_id: IdFactory,
        *,
        reads: UnitOfWorkFactory | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._new_id = new_id
        # The summary reads through units of work without a transaction of their own.
        self._reads = reads or uow

    def _records(
        self, org_id: str, inputs: Sequence[UsageInput], now: datetime
    ) -> list[UsageRecord]:
        return [
            UsageRecord(
                usage_record_id=self._new_id(),
                org_id=org_id,
                metric=i.metric,
                quantity=i.quantity,
                dedup_key=i.dedup_key,
                event_time=i.event_time or now,
                record_time=now,
                distinct_value=i.distinct_value,
            )
            for i in inputs
        ]

    async def record_in(
        self,
        uow: UnitOfWork,
        org_id: str,
        inputs: Sequence[UsageInput],
        *,
        late: Late = Late.REFUSE,
    ) -> list[UsageRecord]:
        """Record inside the caller's unit of work (also used by event subscribers).

        The organization's active subscription is locked while its usage is checked and
        written, so the bounds see every earlier record and a period close waits (usage is
        never written into a period after it was priced).
        """
        inserted, _ = await self._record_in(uow, org_id, inputs, late=late)
        return inserted

    async def _record_in(
        self,
        uow: UnitOfWork,
        org_id: str,
        inputs: Sequence[UsageInput],
        *,
        late: Late = Late.REFUSE,
    ) -> tuple[list[UsageRecord], dict[str, UsageRecord]]:
        """``record_in``, also handing back the records its dedup keys already had."""
        now = self._clock()
        records = self._records(org_id, inputs, now)
        for record in records:
            check_event_quantity(record)
        subscription = await uow.subscriptions.get_active(org_id, for_update=True)
        existing = await uow.usage.get_by_dedup_keys(org_id, [r.dedup_key for r in records])
        if late is Late.REFUSE:
            firsts = dict(existing)
            for usage, record in zip(inputs, records, strict=True):
                first = firsts.setdefault(record.dedup_key, record)
                check_same_payload(first, record, compare_time=usage.event_time is not None)
        new = _first_per_key([r for r in records if r.dedup_key not in existing])
        open_since = (
            subscription.current_period_start
            if subscription is not None
            else await uow.invoices.billed_until(org_id)
        )
        if late is Late.REFUSE:
            # Usage sent without a time is dated now, and no earlier than the open period:
            # a close may have committed while this waited on the lock, after `now` was read.
            undated = {
                r.usage_record_id
                for u, r in zip(inputs, records, strict=True)
                if u.event_time is None
            }
            new = [_no_earlier(r, open_since) if r.usage_record_id in undated else r for r in new]
            for record in new:
                check_event_time(record, now, open_since)
        else:
            new = [_carried(r, now, open_since) for r in new]
        if subscription is not None and new:
            plan = await uow.plans.get(subscription.plan_id)
            await check_open_period(uow, subscription, plan, now, new=new)
        period = (
            TallyPeriod(subscription.current_period_start, subscription.current_period_end)
            if subscription is not None
            else TallyPeriod(open_since or EPOCH)
        )
        inserted = await uow.usage.add_many(new, period)
        uow.record(*(UsageRecorded(r) for r in inserted))
        return inserted, existing

    async def record(self, command: RecordUsage) -> tuple[UsageRecord, bool]:
        """The record for the dedup key, and whether it had been recorded before."""
        org_id = require_usage_reporter(command.caller)
        usage = command.usage
        async with self._uow() as uow:
            inserted, known = await self._record_in(uow, org_id, [usage])
            if inserted:
                await uow.commit()
                return inserted[0], False
            # A repeat was found before the insert, under the subscription's lock: no second
            # read. Only a key another transaction recorded meanwhile needs one.
            existing = known.get(usage.dedup_key)
            if existing is None:
                existing = await uow.usage.get_by_dedup_key(org_id, usage.dedup_key)
        assert existing is not None, "a conflicting row exists once the insert skipped it"
        return existing, True

    async def record_batch(self, command: RecordUsageBatch) -> tuple[int, int]:
        """(recorded, duplicates); repeats of a key inside the batch count as duplicates."""
        org_id = require_usage_reporter(command.caller)
        usages = command.usages
        async with self._uow() as uow:
            inserted = await self.record_in(uow, org_id, usages)
            await uow.commit()
        return len(inserted), len(usages) - len(inserted)

    async def summary(self, query: GetUsageSummary) -> UsageSummary:
        org_id = query.caller.require_org()
        start, end, aggregation = query.start, query.end, query.aggregation
        # No snapshot needed across its statements: each metric's figure comes from one
        # statement (the running totals, or the records when the totals straddle a bound),
        # and the period and plan are read as any concurrent change left them.
        async with self._reads() as uow:
            aggregations: dict[str, Aggregation] = {}
            if start is None or end is None or aggregation is None:
                subscription = await uow.subscriptions.get_active(org_id)
                if subscription is None and (start is None or end is None):
                    raise NoActiveSubscription("no active subscription: give start and end times")
                if subscription is not None:
                    start = start or subscription.current_period_start
                    end = end or subscription.current_period_end
                    plan = await uow.plans.get(subscription.plan_id)
                    if plan is not None and aggregation is None:
                        aggregations = {
                            p.metric: p.aggregation for p in plan.prices if not p.is_flat_fee
                        }
            assert start is not None and end is not None
            if end <= start:
                raise InvalidPeriod("end_time must be after start_time")
            if aggregation is not None:
                aggregations = {}
            rows = await uow.usage.summarize_aggregated(
                org_id,
                start,
                end,
                metrics=query.metrics,
                aggregations=aggregations,
                fallback=aggregation or Aggregation.SUM,
            )
        for row in rows:
            check_summary_fits(row)
        return UsageSummary(start, end, rows)


async def check_open_period(
    uow: UnitOfWork,
    subscription: Subscription,
    plan: Plan | None,
    now: datetime,
    *,
    new: Sequence[UsageRecord] = (),
    adjustments: Sequence[Adjustment] = (),
) -> None:
    """UsageLimitExceeded unless the open period, with `new` usage and `adjustments`
    added, can still be priced on `plan` (the usage bounds of the README)."""
    # Everything from the open period's start on, even past its end (not closed yet, or a
    # few minutes ahead): more than the close will price, never less.
    start = subscription.current_period_start
    end = max(subscription.current_period_end, now) + timedelta(days=1)
    priced_prices = [p for p in plan.prices if not p.is_flat_fee] if plan else []
    new_metrics = {r.metric for r in new}
    priced_metrics = {p.metric for p in priced_prices}
    # One read of the running totals serves both: each metric's quantity sum (`total`)
    # and its value under the plan's aggregation.
    metrics = sorted(new_metrics | priced_metrics)
    usage = (
        await uow.usage.summarize_aggregated(
            subscription.org_id,
            start,
            end,
            metrics=metrics,
            aggregations={p.metric: p.aggregation for p in priced_prices},
            fallback=Aggregation.SUM,
        )
        if metrics
        else []
    )
    pending = await uow.subscriptions.pending_adjustments(subscription.subscription_id)
    check_period_bounds(
        plan=plan,
        sums={m.metric: m.total for m in usage if m.metric in new_metrics},
        priced={m.metric: m.value for m in usage if m.metric in priced_metrics},
        adjustments=(*pending, *adjustments),
        new=new,
    )


def _first_per_key(records: Sequence[UsageRecord]) -> list[UsageRecord]:
    """A batch repeating a dedup key records its first occurrence only."""
    seen: set[str] = set()
    first = []
    for record in records:
        if record.dedup_key not in seen:
            seen.add(record.dedup_key)
            first.append(record)
    return first


def _no_earlier(record: UsageRecord, open_since: datetime | None) -> UsageRecord:
    if open_since is None or record.event_time >= open_since:
        return record
    return replace(record, event_time=open_since)


def _carried(record: UsageRecord, now: datetime, open_since: datetime | None) -> UsageRecord:
    """The record, re-dated to now when its own time could not be billed any more: to the
    open period's start if that is later (a close committed while this waited on its lock,
    after `now` was read)."""
    try:
        check_event_time(record, now, open_since)
    except (UsageTimeOutOfRange, UsagePeriodClosed):
        return replace(record, event_time=max(now, open_since) if open_since else now)
    return record
