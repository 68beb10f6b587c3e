"""Subscriptions changed or canceled while their period closes, on real PostgreSQL.

Every read-modify-write of a subscription holds its row lock, so a ChangePlan or Cancel that
read the subscription before a close cannot write the closed period back afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.commands import (
    CancelSubscription,
    ChangePlan,
    CreatePlan,
    CreateSubscription,
)
from billing.app.period_closer import CLOSE_JOB, PeriodCloser
from billing.bootstrap import build_handlers, new_id
from billing.domain import errors
from billing.domain.plan import Interval
from billing.domain.pricing import Flat, Price
from billing.storage.tables import invoices, subscriptions
from billing.storage.uow import sql_unit_of_work_factory
from keel_runtime.caller import Caller
from keel_runtime.db import create_engine
from keel_runtime.metrics import Metrics
from keel_runtime.tenancy import acting_for

from ..serving import serving, unwrapped
from ..unit.conftest import FakeClock, FakeLedger

pytestmark = pytest.mark.integration

CLIENTS = 20
OPERATOR = Caller(subject="ops", org_id="", kind="service")


def owner(org_id: str) -> Caller:
    return Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))


@pytest.fixture
async def wide_engine(engine: AsyncEngine, runtime_database_url: str) -> AsyncIterator[AsyncEngine]:
    """A pool as wide as the clients, so they really run at once (`engine` migrated); as
    the runtime role, as the service runs."""
    wide = create_engine(runtime_database_url, pool_size=CLIENTS + 4)
    yield wide
    await wide.dispose()


def failed_closes(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value(
        "keel_job_items_total", {"service": "billing", "job": CLOSE_JOB, "outcome": "failed"}
    )
    return value or 0.0


@pytest.mark.parametrize("action", ["change_plan", "cancel"])
async def test_changes_racing_a_close_never_reopen_the_period(
    wide_engine: AsyncEngine, admin_engine: AsyncEngine, action: str
) -> None:
    clock = FakeClock(datetime.now(UTC))
    handlers = serving(build_handlers(wide_engine, FakeLedger(), clock))
    await handlers.plans.create(
        CreatePlan(OPERATOR, "team", "Team", "USD", Interval.MONTH, (Price("", Flat(3000)),))
    )
    orgs = [str(uuid.uuid4()) for _ in range(CLIENTS)]
    subs = [
        await handlers.subscriptions.create(
            CreateSubscription(owner(org), "free", str(uuid.uuid4()))
        )
        for org in orgs
    ]
    metrics = Metrics("billing")
    closer = PeriodCloser(
        sql_unit_of_work_factory(wide_engine, clock),
        unwrapped(handlers.invoices),
        clock,
        new_id,
        metrics=metrics,
    )
    clock.advance(timedelta(days=32))  # every first period has ended

    async def client(org: str, subscription_id: str) -> None:
        if action == "change_plan":
            await handlers.subscriptions.change_plan(
                ChangePlan(owner(org), subscription_id, "team", str(uuid.uuid4()))
            )
        else:
            await handlers.subscriptions.cancel(
                CancelSubscription(owner(org), subscription_id, at_period_end=False)
            )

    await asyncio.gather(
        closer.close_due(),
        closer.close_due(),  # a second replica
        *(client(org, s.subscription_id) for org, s in zip(orgs, subs, strict=True)),
    )
    # Whatever ran first, nothing is left to close, and the closer never failed.
    await closer.close_due()
    assert failed_closes(metrics) == 0

    async with admin_engine.connect() as conn:  # every organization's rows
        rows = {
            str(r.subscription_id): r
            for r in await conn.execute(
                select(subscriptions).where(subscriptions.c.org_id.in_(orgs))
            )
        }
        billed = list(await conn.execute(select(invoices).where(invoices.c.org_id.in_(orgs))))
    for invoice in billed:
        # No period starts before the end of one already invoiced.
        assert rows[str(invoice.subscription_id)].current_period_start >= invoice.period_end
    assert len({(str(i.subscription_id), i.period_start) for i in billed}) == len(billed)
    assert {str(i.subscription_id) for i in billed} == set(rows)  # every period was closed


async def test_a_save_from_a_stale_read_is_refused(engine: AsyncEngine) -> None:
    clock = FakeClock(datetime.now(UTC))
    handlers = serving(build_handlers(engine, FakeLedger(), clock))
    org = str(uuid.uuid4())
    sub = await handlers.subscriptions.create(
        CreateSubscription(owner(org), "free", str(uuid.uuid4()))
    )
    uow_factory = sql_unit_of_work_factory(engine, clock)
    with acting_for(org):
        async with uow_factory() as uow:
            stale = await uow.subscriptions.get(org, sub.subscription_id)
        assert stale is not None
        await handlers.subscriptions.cancel(
            CancelSubscription(owner(org), sub.subscription_id, at_period_end=True)
        )
        async with uow_factory() as uow:
            with pytest.raises(errors.ConcurrentModification):
                await uow.subscriptions.save(replace(stale, plan_id="free"))
