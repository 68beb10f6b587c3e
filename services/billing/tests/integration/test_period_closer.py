"""The period closer against PostgreSQL: one subscription that cannot be closed delays no other."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.commands import (
    CancelSubscription,
    ChangePlan,
    CreatePlan,
    CreateSubscription,
    ListInvoices,
)
from billing.app.period_closer import PeriodCloser
from billing.bootstrap import build_handlers, new_id
from billing.domain.plan import Interval
from billing.domain.pricing import Flat, Price
from billing.storage.tables import usage_records
from billing.storage.uow import sql_unit_of_work_factory
from keel_runtime.caller import Caller
from keel_runtime.metrics import Metrics
from keel_runtime.tenancy import set_tenant

from ..serving import serving, unwrapped
from ..unit.conftest import FakeClock, FakeLedger

pytestmark = pytest.mark.integration


def owner(org_id: str) -> Caller:
    return Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))


async def test_one_failing_subscription_does_not_stop_the_others(
    engine: AsyncEngine, ledger: FakeLedger
) -> None:
    clock = FakeClock(datetime.now(UTC))
    handlers = serving(build_handlers(engine, ledger, clock))
    orgs = [str(uuid.uuid4()) for _ in range(3)]
    subs = [
        await handlers.subscriptions.create(
            CreateSubscription(owner(org), "free", str(uuid.uuid4()))
        )
        for org in orgs
    ]
    # Usage that cannot be priced in 64 bits, written straight into the table (what data
    # recorded before the ingestion bounds existed can hold). The first due subscription.
    async with engine.begin() as conn:
        await set_tenant(conn, orgs[0])
        await conn.execute(
            usage_records.insert().values(
                usage_record_id=new_id(),
                org_id=orgs[0],
                metric="items.confirmed",
                quantity=2**62,
                dedup_key="huge",
                event_time=clock(),
                record_time=clock(),
            )
        )
    metrics = Metrics("billing")
    closer = PeriodCloser(
        sql_unit_of_work_factory(engine, clock),
        unwrapped(handlers.invoices),
        clock,
        new_id,
        metrics=metrics,
    )
    clock.advance(timedelta(days=32))

    issued = await closer.close_due()

    assert sorted(i.subscription_id for i in issued) == sorted(s.subscription_id for s in subs[1:])
    failed = metrics.registry.get_sample_value(
        "keel_job_items_total",
        {"service": "billing", "job": "billing-close-periods", "outcome": "failed"},
    )
    assert failed == 1
    # The failing one waits out its backoff instead of being retried on every pass.
    assert await closer.close_due() == []
    assert failed == metrics.registry.get_sample_value(
        "keel_job_items_total",
        {"service": "billing", "job": "billing-close-periods", "outcome": "failed"},
    )


async def test_cancel_now_bills_the_elapsed_share_of_fees_and_pending_proration(
    engine: AsyncEngine, ledger: FakeLedger
) -> None:
    clock = FakeClock(datetime(2026, 3, 1, tzinfo=UTC))  # a 31-day period
    handlers = serving(build_handlers(engine, ledger, clock))
    operator = Caller(subject="ops", org_id="", kind="service")
    for plan_id, fee in (("small", 3100), ("large", 6200)):
        await handlers.plans.create(
            CreatePlan(operator, plan_id, plan_id, "USD", Interval.MONTH, (Price("", Flat(fee)),))
        )
    org = str(uuid.uuid4())
    sub = await handlers.subscriptions.create(
        CreateSubscription(owner(org), "small", str(uuid.uuid4()))
    )
    clock.advance(timedelta(days=10))
    _, proration = await handlers.subscriptions.change_plan(
        ChangePlan(owner(org), sub.subscription_id, "large", str(uuid.uuid4()))
    )
    assert proration.amount_minor == 1000 - 2000  # 10/31 of each fee
    clock.advance(timedelta(days=5))

    canceled = await handlers.subscriptions.cancel(
        CancelSubscription(owner(org), sub.subscription_id, at_period_end=False)
    )

    assert not canceled.active
    listed = await handlers.invoices.list(
        ListInvoices(owner(org), state=None, page_size=0, page_token="")
    )
    (final,) = listed.invoices
    assert (final.period_start, final.period_end) == (sub.current_period_start, clock())
    # 15 of 31 days of the plan in force (large), plus the plan change's proration.
    assert [line.amount_minor for line in final.lines] == [3000, -2000, 1000]
