"""Running usage totals against PostgreSQL: moved only by newly inserted records, equal to
the records aggregated for every aggregation, and what the open period's summary reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.commands import (
    CloseBillingPeriod,
    CreateSubscription,
    GetUsageSummary,
    RecordUsage,
    RecordUsageBatch,
    UsageInput,
)
from billing.bootstrap import Handlers, build_handlers
from billing.domain import errors
from billing.domain.pricing import Aggregation
from billing.domain.usage import MAX_PERIOD_QUANTITY, MetricUsage, UsageRecord, aggregate
from billing.storage.tables import usage_aggregate_values, usage_aggregates, usage_records
from billing.storage.uow import SqlUnitOfWork
from keel_runtime.caller import Caller
from keel_runtime.tenancy import acting_for

from ..serving import serving
from ..unit.conftest import FakeClock, FakeLedger

pytestmark = pytest.mark.integration


def owner(org_id: str) -> Caller:
    return Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def handlers(engine: AsyncEngine, ledger: FakeLedger, clock: FakeClock) -> Handlers:
    return serving(build_handlers(engine, ledger, clock))


async def subscribed(handlers: Handlers) -> tuple[str, datetime, datetime, str]:
    """A new organization on the default plan: (org, period start, period end, sub id)."""
    org = str(uuid.uuid4())
    sub = await handlers.subscriptions.create(
        CreateSubscription(owner(org), "free", str(uuid.uuid4()))
    )
    return org, sub.current_period_start, sub.current_period_end, sub.subscription_id


async def records_of(admin_engine: AsyncEngine, org: str) -> list[UsageRecord]:
    async with admin_engine.connect() as conn:
        rows = await conn.execute(select(usage_records).where(usage_records.c.org_id == org))
        return [
            UsageRecord(
                str(r.usage_record_id),
                r.org_id,
                r.metric,
                r.quantity,
                r.dedup_key,
                r.event_time,
                r.record_time,
                r.distinct_value,
            )
            for r in rows
        ]


async def both_ways(
    engine: AsyncEngine,
    org: str,
    start: datetime,
    end: datetime,
    aggregation: Aggregation,
    metrics: Sequence[str] = (),
) -> tuple[list[MetricUsage], list[MetricUsage]]:
    """(from the running totals, from the records) for the same question."""
    with acting_for(org):
        async with SqlUnitOfWork(engine, FakeClock()) as uow:
            usage = uow.usage
            return (
                await usage.summarize_aggregated(
                    org, start, end, metrics=metrics, aggregations={}, fallback=aggregation
                ),
                await usage.summarize(
                    org, start, end, metrics=metrics, aggregations={}, fallback=aggregation
                ),
            )


async def test_totals_are_the_records_aggregated_duplicates_counted_once(
    engine: AsyncEngine, admin_engine: AsyncEngine, handlers: Handlers, clock: FakeClock
) -> None:
    org, start, end, _ = await subscribed(handlers)
    t = start + timedelta(seconds=1)
    clock.advance(timedelta(hours=1))
    record = handlers.usage.record
    # Singles, a replayed key (same payload: a duplicate, not an error), ties on event time.
    await record(RecordUsage(owner(org), UsageInput("calls", 5, "a", t, "u1")))
    await record(RecordUsage(owner(org), UsageInput("calls", 5, "a", t, "u1")))
    await record(RecordUsage(owner(org), UsageInput("calls", 9, "b", t, "u2")))
    clock.advance(timedelta(seconds=1))  # same event time, later record time: latest
    await record(RecordUsage(owner(org), UsageInput("calls", 4, "c", t, "u1")))
    await record(RecordUsage(owner(org), UsageInput("seats", 3, "s1", t)))
    # A batch repeating its own keys and earlier ones, distinct values repeated.
    batch = [
        UsageInput("calls", 7, "d", t - timedelta(microseconds=1), "u3"),
        UsageInput("calls", 1, "e", t + timedelta(minutes=2), ""),
        UsageInput("calls", 7, "d", t - timedelta(microseconds=1), "u3"),
        UsageInput("calls", 9, "b", t, "u2"),
        UsageInput("seats", 2, "s2", t + timedelta(minutes=1)),
        UsageInput("calls", 0, "f", t + timedelta(minutes=1), "u2"),
    ]
    assert await handlers.usage.record_batch(RecordUsageBatch(owner(org), batch)) == (4, 2)

    records = await records_of(admin_engine, org)
    assert len(records) == 8
    for aggregation in Aggregation:
        totals, exact = await both_ways(engine, org, start, end, aggregation)
        assert totals == exact, aggregation
        for metric in ("calls", "seats"):
            mine = [r for r in records if r.metric == metric]
            (found,) = [m for m in totals if m.metric == metric]
            assert (found.value, found.record_count) == aggregate(mine, aggregation)
            assert found.total == sum(r.quantity for r in mine)
    async with admin_engine.connect() as conn:
        rows = (
            await conn.execute(select(usage_aggregates).where(usage_aggregates.c.org_id == org))
        ).all()
        values = (
            await conn.execute(
                select(usage_aggregate_values.c.metric, usage_aggregate_values.c.distinct_value)
                .where(usage_aggregate_values.c.org_id == org)
                .order_by(usage_aggregate_values.c.distinct_value)
            )
        ).all()
    # One row per metric of the open period, what it holds read from the records.
    assert {(r.metric, r.period_start, r.record_count) for r in rows} == {
        ("calls", start, 6),
        ("seats", start, 2),
    }
    assert [tuple(v) for v in values] == [("calls", "u1"), ("calls", "u2"), ("calls", "u3")]
    summary = await handlers.usage.summary(GetUsageSummary(owner(org)))
    assert [(m.metric, m.value, m.record_count) for m in summary.metrics] == [
        ("calls", 26, 6),  # neither priced by the default plan: summed
        ("seats", 5, 2),
    ]


async def test_a_range_cutting_through_a_total_is_read_from_the_records(
    engine: AsyncEngine, handlers: Handlers, clock: FakeClock
) -> None:
    org, start, end, _ = await subscribed(handlers)
    clock.advance(timedelta(days=2))
    times = [start + timedelta(hours=h) for h in (1, 10, 20, 30, 40)]
    usages = [UsageInput("calls", h, f"k{h}", t, f"v{h % 2}") for h, t in enumerate(times)]
    await handlers.usage.record_batch(RecordUsageBatch(owner(org), usages))
    middle = (start + timedelta(hours=15), start + timedelta(hours=35))
    for aggregation in Aggregation:
        for lo, hi in (middle, (start, end), (start - timedelta(days=1), start)):
            totals, exact = await both_ways(engine, org, lo, hi, aggregation, ["calls", "none"])
            assert totals == exact, (aggregation, lo, hi)
            totals, exact = await both_ways(engine, org, lo, hi, aggregation)
            assert totals == exact, (aggregation, lo, hi)
    summary = await handlers.usage.summary(
        GetUsageSummary(owner(org), start=middle[0], end=middle[1])
    )
    assert [(m.metric, m.value, m.record_count) for m in summary.metrics] == [("calls", 5, 2)]


async def test_usage_dated_past_the_period_counts_in_the_next_one(
    engine: AsyncEngine, handlers: Handlers, clock: FakeClock
) -> None:
    org, start, end, subscription_id = await subscribed(handlers)
    clock.now = end + timedelta(minutes=1)  # the period ended; nobody closed it yet
    await handlers.usage.record_batch(
        RecordUsageBatch(
            owner(org),
            [
                UsageInput("calls", 2, "before", end - timedelta(minutes=1), "x"),
                UsageInput("calls", 3, "after", end, "x"),
            ],
        )
    )
    invoice = await handlers.invoices.close_period(
        CloseBillingPeriod(owner(org), subscription_id, str(uuid.uuid4()))
    )
    assert invoice.period_end == end
    await handlers.usage.record(
        RecordUsage(owner(org), UsageInput("calls", 4, "later", clock.now, "x"))
    )
    summary = await handlers.usage.summary(GetUsageSummary(owner(org)))
    assert (summary.start, [(m.metric, m.value, m.record_count) for m in summary.metrics]) == (
        end,
        [("calls", 7, 2)],
    )
    for aggregation in Aggregation:
        for lo, hi in ((start, end), (end, summary.end), (start, summary.end)):
            totals, exact = await both_ways(engine, org, lo, hi, aggregation)
            assert totals == exact, (aggregation, lo, hi)


async def test_the_bounds_and_the_open_period_summary_read_the_totals(
    admin_engine: AsyncEngine, handlers: Handlers, clock: FakeClock
) -> None:
    org, start, _, _ = await subscribed(handlers)
    clock.advance(timedelta(minutes=1))
    await handlers.usage.record(RecordUsage(owner(org), UsageInput("calls", 1, "a", start)))
    # What a period's records would add up to after a long ingestion, without writing them.
    async with admin_engine.begin() as conn:
        await conn.execute(
            usage_aggregates.update()
            .where(usage_aggregates.c.org_id == org)
            .values(quantity_sum=MAX_PERIOD_QUANTITY, record_count=10**6)
        )
    summary = await handlers.usage.summary(GetUsageSummary(owner(org)))
    assert [(m.metric, m.value, m.record_count) for m in summary.metrics] == [
        ("calls", MAX_PERIOD_QUANTITY, 10**6)
    ]
    with pytest.raises(errors.UsageLimitExceeded):
        await handlers.usage.record(RecordUsage(owner(org), UsageInput("calls", 1, "b", start)))


async def test_an_early_close_splits_the_totals_of_usage_dated_past_it(
    engine: AsyncEngine, admin_engine: AsyncEngine, handlers: Handlers, clock: FakeClock
) -> None:
    org, start, _, subscription_id = await subscribed(handlers)
    clock.advance(timedelta(days=3))
    closed_at = clock.now
    before, ahead = closed_at - timedelta(hours=1), closed_at + timedelta(minutes=2)
    await handlers.usage.record_batch(
        RecordUsageBatch(
            owner(org),
            [
                UsageInput("calls", 2, "before", before, "x"),
                UsageInput("calls", 3, "ahead", ahead, "x"),  # a client's clock ahead
                UsageInput("calls", 5, "at", closed_at, "y"),
                UsageInput("seats", 1, "seat", before),
            ],
        )
    )
    invoice = await handlers.invoices.close_period(
        CloseBillingPeriod(owner(org), subscription_id, str(uuid.uuid4()))
    )
    assert invoice.period_end == closed_at
    async with admin_engine.connect() as conn:
        rows = (
            await conn.execute(select(usage_aggregates).where(usage_aggregates.c.org_id == org))
        ).all()
        values = (
            await conn.execute(
                select(
                    usage_aggregate_values.c.period_start, usage_aggregate_values.c.distinct_value
                ).where(usage_aggregate_values.c.org_id == org)
            )
        ).all()
    # Each side of the close counted under its own period: the open one reads its totals.
    assert {(r.metric, r.period_start, r.record_count, int(r.quantity_sum)) for r in rows} == {
        ("calls", start, 1, 2),
        ("calls", closed_at, 2, 8),
        ("seats", start, 1, 1),
    }
    assert sorted((v.period_start, v.distinct_value) for v in values) == [
        (start, "x"),
        (closed_at, "x"),
        (closed_at, "y"),
    ]
    summary = await handlers.usage.summary(GetUsageSummary(owner(org)))
    assert (summary.start, [(m.metric, m.value, m.record_count) for m in summary.metrics]) == (
        closed_at,
        [("calls", 8, 2)],
    )
    for aggregation in Aggregation:
        for lo, hi in ((start, closed_at), (closed_at, summary.end), (start, summary.end)):
            totals, exact = await both_ways(engine, org, lo, hi, aggregation)
            assert totals == exact, (aggregation, lo, hi)
