"""Handlers against PostgreSQL: usage de-duplication and aggregation, invoices, rollbacks."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.commands import (
    CancelSubscription,
    ChangePlan,
    CloseBillingPeriod,
    CreatePlan,
    CreateSubscription,
    GetInvoice,
    GetPlan,
    GetSubscription,
    GetUsageSummary,
    ListInvoices,
    ListPlans,
    PayInvoice,
    RecordUsage,
    RecordUsageBatch,
    UsageInput,
)
from billing.app.period_closer import PeriodCloser
from billing.bootstrap import Handlers, build_handlers, new_id, utc_now
from billing.domain import errors
from billing.domain.invoice import InvoiceState, LineKind
from billing.domain.plan import Interval
from billing.domain.pricing import (
    Aggregation,
    Flat,
    Package,
    PerUnit,
    Price,
    Tier,
    Tiered,
    TierMode,
)
from billing.domain.usage import TallyPeriod, UsageRecord
from billing.storage.tables import outbox, usage_aggregate_values, usage_aggregates, usage_records
from billing.storage.uow import (
    BoundUnitOfWork,
    SqlUnitOfWork,
    sql_unit_of_work_factory,
)
from keel_runtime.caller import Caller
from keel_runtime.tenancy import acting_for, set_tenant

from ..serving import serving, unwrapped
from ..unit.conftest import FakeClock, FakeLedger

pytestmark = pytest.mark.integration


def owner(org_id: str) -> Caller:
    return Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))


def reporter(org_id: str) -> Caller:
    return Caller(subject="svc", org_id=org_id, kind="service")


OPERATOR = Caller(subject="ops", org_id="", kind="service")


async def rows(engine: AsyncEngine, table) -> int:  # type: ignore[no-untyped-def]
    """Rows of every organization (``engine``: the administrator's)."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_usage_dedup_key_records_once(admin_engine: AsyncEngine, handlers: Handlers) -> None:
    org = str(uuid.uuid4())
    first, dup = await handlers.usage.record(
        RecordUsage(reporter(org), UsageInput("items.confirmed", 1, "k"))
    )
    again, dup_again = await handlers.usage.record(
        RecordUsage(reporter(org), UsageInput("items.confirmed", 1, "k"))
    )
    assert (dup, dup_again) == (False, True)
    assert again.usage_record_id == first.usage_record_id
    # Another organization may use the same key.
    await handlers.usage.record(
        RecordUsage(reporter(str(uuid.uuid4())), UsageInput("items.confirmed", 1, "k"))
    )
    assert await rows(admin_engine, usage_records) == 2
    assert await rows(admin_engine, outbox) == 2


async def test_concurrent_duplicates_record_once(
    admin_engine: AsyncEngine, handlers: Handlers
) -> None:
    org = str(uuid.uuid4())
    results = await asyncio.gather(
        *(
            handlers.usage.record(RecordUsage(reporter(org), UsageInput("m", 1, "same")))
            for _ in range(5)
        )
    )
    assert sorted(dup for _, dup in results) == [False, True, True, True, True]
    assert await rows(admin_engine, usage_records) == 1


async def test_batch_and_sql_aggregations(handlers: Handlers) -> None:
    org = str(uuid.uuid4())
    # Inside the lateness window (35 days), with no subscription, so no period closed yet.
    t0 = datetime.now(UTC) - timedelta(days=30)
    usages = [
        UsageInput("api.calls", q, f"k{i}", t0 + timedelta(minutes=i), d)
        for i, (q, d) in enumerate([(3, "a"), (7, "b"), (2, "a"), (0, "")])
    ]
    usages.append(UsageInput("api.calls", 100, "late", t0 + timedelta(days=25)))
    recorded, dups = await handlers.usage.record_batch(
        RecordUsageBatch(reporter(org), [*usages, usages[0]])
    )
    assert (recorded, dups) == (5, 1)
    expected = {
        Aggregation.SUM: 12,
        Aggregation.COUNT: 4,
        Aggregation.MAX: 7,
        Aggregation.UNIQUE_COUNT: 2,
    }
    for aggregation, value in expected.items():
        summary = await handlers.usage.summary(
            GetUsageSummary(
                reporter(org),
                metrics=["api.calls", "absent"],
                start=t0,
                end=t0 + timedelta(days=20),
                aggregation=aggregation,
            )
        )
        assert [(m.metric, m.value, m.record_count) for m in summary.metrics] == [
            ("absent", 0, 0),
            ("api.calls", value, 4),
        ]


async def test_default_plan_is_seeded(handlers: Handlers) -> None:
    plan = await handlers.plans.get(GetPlan(OPERATOR, "free"))
    assert plan.is_default and plan.currency == "USD"
    (price,) = plan.prices
    assert (price.metric, price.included_quantity, price.amount_for(101)) == (
        "items.confirmed",
        100,
        5,
    )


async def test_plans_round_trip_every_price_model(handlers: Handlers) -> None:
    command = CreatePlan(
        OPERATOR,
        plan_id="scale",
        display_name="Scale",
        currency="EUR",
        interval=Interval.YEAR,
        prices=(
            Price("", Flat(99_00)),
            Price("a", PerUnit(3), Aggregation.MAX, 10),
            Price("b", Package(100, 250)),
            Price("c", Tiered(TierMode.VOLUME, (Tier(10, 5, 1), Tier(None, 2)))),
            Price(
                "d",
                Tiered(TierMode.GRADUATED, (Tier(5, 7), Tier(None, 1))),
                Aggregation.UNIQUE_COUNT,
            ),
        ),
    )
    created = await handlers.plans.create(command)
    assert await handlers.plans.get(GetPlan(OPERATOR, "scale")) == created
    assert await handlers.plans.create(command) == created
    with pytest.raises(errors.PlanAlreadyExists):
        await handlers.plans.create(
            CreatePlan(OPERATOR, "scale", "Other", "EUR", Interval.YEAR, ())
        )
    page = await handlers.plans.list(
        ListPlans(OPERATOR, page_size=1, page_token="", show_archived=False)
    )
    rest = await handlers.plans.list(
        ListPlans(OPERATOR, page_size=1, page_token=page.next_page_token, show_archived=False)
    )
    assert [p.plan_id for p in page.plans + rest.plans] == ["free", "scale"]


async def test_invoice_cycle_with_proration(engine: AsyncEngine, ledger: FakeLedger) -> None:
    clock = FakeClock(datetime.now(UTC))
    handlers = serving(build_handlers(engine, ledger, clock))
    org = str(uuid.uuid4())
    await handlers.plans.create(
        CreatePlan(OPERATOR, "team", "Team", "USD", Interval.MONTH, (Price("", Flat(3000)),)),
    )
    sub = await handlers.subscriptions.create(
        CreateSubscription(owner(org), "free", str(uuid.uuid4()))
    )
    await handlers.usage.record_batch(
        RecordUsageBatch(
            reporter(org), [UsageInput("items.confirmed", 1, f"i{i}") for i in range(120)]
        )
    )
    clock.advance(timedelta(days=10))
    changed, proration = await handlers.subscriptions.change_plan(
        ChangePlan(owner(org), sub.subscription_id, "team", str(uuid.uuid4()))
    )
    assert changed.plan_id == "team" and proration.amount_minor < 0
    clock.advance(timedelta(days=1))
    key = str(uuid.uuid4())
    invoice = await handlers.invoices.close_period(
        CloseBillingPeriod(owner(org), sub.subscription_id, key)
    )
    assert (
        await handlers.invoices.close_period(
            CloseBillingPeriod(owner(org), sub.subscription_id, key)
        )
        == invoice
    )
    kinds = [line.kind for line in invoice.lines]
    assert kinds[0] is LineKind.FLAT and LineKind.PRORATION in kinds
    assert invoice.total_minor == 3000 + proration.amount_minor

    ledger.fund(org, 10)
    with pytest.raises(errors.PaymentDeclined):
        await handlers.invoices.pay(PayInvoice(owner(org), invoice.invoice_id))
    failed = await handlers.invoices.get(GetInvoice(owner(org), invoice.invoice_id))
    assert failed.state is InvoiceState.OPEN and failed.payment_attempts == 1

    ledger.fund(org, 10_000)
    paid = await handlers.invoices.pay(PayInvoice(owner(org), invoice.invoice_id))
    assert paid.state is InvoiceState.PAID and paid.payment_attempts == 2
    listed = await handlers.invoices.list(
        ListInvoices(owner(org), state=InvoiceState.PAID, page_size=0, page_token="")
    )
    assert [i.invoice_id for i in listed.invoices] == [invoice.invoice_id]
    with pytest.raises(errors.InvoiceNotFound):
        await handlers.invoices.get(GetInvoice(owner(str(uuid.uuid4())), invoice.invoice_id))


async def test_leaving_without_commit_rolls_back(
    engine: AsyncEngine, admin_engine: AsyncEngine
) -> None:
    org = str(uuid.uuid4())
    with acting_for(org):
        async with SqlUnitOfWork(engine, utc_now) as uow:
            now = utc_now()
            record = UsageRecord(new_id(), org, "m", 1, "k", now, now, "v")
            await uow.usage.add_many([record], TallyPeriod(now))
    for table in (usage_records, usage_aggregates, usage_aggregate_values):
        assert await rows(admin_engine, table) == 0


async def test_period_closer_against_postgres(engine: AsyncEngine, ledger: FakeLedger) -> None:
    clock = FakeClock(datetime.now(UTC))
    handlers = serving(build_handlers(engine, ledger, clock))
    org = str(uuid.uuid4())
    sub = await handlers.subscriptions.create(
        CreateSubscription(owner(org), "free", str(uuid.uuid4()))
    )
    await handlers.subscriptions.cancel(
        CancelSubscription(owner(org), sub.subscription_id, at_period_end=True)
    )
    closer = PeriodCloser(
        sql_unit_of_work_factory(engine, clock), unwrapped(handlers.invoices), clock, new_id
    )
    assert await closer.close_due() == []
    clock.advance(timedelta(days=32))
    # Two closers at once (two replicas): the period is invoiced exactly once.
    first, second = await asyncio.gather(closer.close_due(), closer.close_due())
    (invoice,) = first + second
    assert invoice.subscription_id == sub.subscription_id
    ended = await handlers.subscriptions.get(GetSubscription(owner(org), sub.subscription_id))
    assert not ended.active  # canceled at the end of the period it was scheduled for
    assert await closer.close_due() == []


async def test_default_subscription_starts_under_a_generic_plan(
    engine: AsyncEngine, handlers: Handlers
) -> None:
    """The partial-index predicate of ON CONFLICT must be SQL text: with a bind parameter,
    PostgreSQL cannot infer the unique index once it plans the statement generically (what
    a prepared statement gets after a few executions on one connection)."""
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        uow = BoundUnitOfWork(conn, utc_now)
        orgs = [str(uuid.uuid4()) for _ in range(12)]
        for org in orgs:
            await set_tenant(conn, org)  # as the consumer does, from each event's organization
            assert await handlers.subscriptions.start_default(uow, org) is not None
        # A second active subscription for the same organization is a quiet conflict.
        await set_tenant(conn, orgs[0])
        first = await uow.subscriptions.get_active(orgs[0])
        assert first is not None
        again = replace(first, subscription_id=str(uuid.uuid4()))
        assert await uow.subscriptions.add(again) is False


async def test_change_plan_replayed_returns_the_first_answer(
    engine: AsyncEngine, ledger: FakeLedger
) -> None:
    clock = FakeClock(datetime.now(UTC))
    handlers = serving(build_handlers(engine, ledger, clock))
    await handlers.plans.create(
        CreatePlan(OPERATOR, "crew", "Crew", "USD", Interval.MONTH, (Price("", Flat(3000)),))
    )
    org = str(uuid.uuid4())
    sub = await handlers.subscriptions.create(
        CreateSubscription(owner(org), "free", str(uuid.uuid4()))
    )
    clock.advance(timedelta(days=10))
    key = str(uuid.uuid4())
    _, proration = await handlers.subscriptions.change_plan(
        ChangePlan(owner(org), sub.subscription_id, "crew", key)
    )
    assert proration.amount_minor < 0
    clock.advance(timedelta(days=1))
    again, replayed = await handlers.subscriptions.change_plan(
        ChangePlan(owner(org), sub.subscription_id, "crew", key)
    )
    assert (again.plan_id, replayed) == ("crew", proration)
