"""Tenant isolation held by PostgreSQL itself, as the runtime role billing serves with.

Row-level security on every tenant-owned table (migrations 0006, 0008): a query that forgot its
org filter still returns nothing of another organization, a write for another organization
is refused, the jobs' cross-organization functions are the only way across, and the runtime
role can neither switch the policies off nor change the schema. The jobs themselves are
run across several organizations by their own tests (period closer, dunning, reconciler,
webhook dispatcher).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from keel.billing.v1 import events_pb2
from sqlalchemy import Table, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.commands import (
    ChangePlan,
    CloseBillingPeriod,
    CreatePlan,
    CreateSubscription,
    CreateWebhookEndpoint,
    RecordUsage,
    UsageInput,
)
from billing.bootstrap import Handlers, build_handlers
from billing.domain.plan import Interval
from billing.domain.pricing import Flat, Price
from billing.storage.repositories import DeliveryRepository
from billing.storage.tables import (
    adjustments,
    idempotency_keys,
    invoices,
    subscriptions,
    usage_aggregate_values,
    usage_aggregates,
    usage_records,
    webhook_deliveries,
    webhook_endpoints,
)
from billing.storage.uow import SqlUnitOfWork
from keel_runtime.caller import Caller
from keel_runtime.events import new_event
from keel_runtime.tenancy import acting_for, set_tenant
from keel_runtime.testing import ROW_SECURITY_LIFTS, row_security_flags

from ..serving import serving
from ..unit.conftest import FakeClock, FakeLedger

pytestmark = pytest.mark.integration

OPERATOR = Caller(subject="ops", org_id="", kind="service")
# Every policed table, and a column that tells whose row it is.
POLICED: dict[str, Table] = {
    "subscriptions": subscriptions,
    "adjustments": adjustments,
    "usage_records": usage_records,
    "usage_aggregates": usage_aggregates,
    "usage_aggregate_values": usage_aggregate_values,
    "invoices": invoices,
    "idempotency_keys": idempotency_keys,
    "webhook_endpoints": webhook_endpoints,
    "webhook_deliveries": webhook_deliveries,
}


@dataclass(frozen=True)
class Tenant:
    org: str
    subscription_id: str
    invoice_id: str
    endpoint_id: str


def owner(org_id: str) -> Caller:
    return Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))


async def tenant(engine: AsyncEngine, handlers: Handlers, clock: FakeClock) -> Tenant:
    """A row in every policed table, for a new organization."""
    org = str(uuid.uuid4())
    sub = await handlers.subscriptions.create(
        CreateSubscription(owner(org), "free", str(uuid.uuid4()))
    )
    await handlers.usage.record(
        RecordUsage(owner(org), UsageInput("items.confirmed", 3, "k1", distinct_value="i1"))
    )
    clock.advance(timedelta(days=3))
    await handlers.subscriptions.change_plan(
        ChangePlan(  # a proration adjustment, pending
            owner(org), sub.subscription_id, "team", str(uuid.uuid4())
        )
    )
    invoice = await handlers.invoices.close_period(
        CloseBillingPeriod(owner(org), sub.subscription_id, str(uuid.uuid4()))
    )
    await handlers.subscriptions.change_plan(
        ChangePlan(  # another, left pending
            owner(org), sub.subscription_id, "free", str(uuid.uuid4())
        )
    )
    endpoint, _ = await handlers.webhooks.create(
        CreateWebhookEndpoint(
            owner(org),
            url="https://hooks.example/a",
            event_types=[],
            description="",
            request_id=str(uuid.uuid4()),
        )
    )
    event = new_event(
        type="billing.invoice.paid",
        source="billing",
        subject=invoice.invoice_id,
        org_id=org,
        payload=events_pb2.InvoicePaid(invoice_id=invoice.invoice_id, transaction_id="tx-1"),
    )
    async with engine.begin() as conn:
        await set_tenant(conn, org)  # as the unit of work committing the event does
        await DeliveryRepository(conn).enqueue_events([event], clock())
    return Tenant(org, sub.subscription_id, invoice.invoice_id, endpoint.webhook_endpoint_id)


@pytest.fixture
async def two(engine: AsyncEngine) -> tuple[Tenant, Tenant]:
    clock = FakeClock(datetime.now(UTC))
    handlers = serving(build_handlers(engine, FakeLedger(), clock))
    await handlers.plans.create(
        CreatePlan(OPERATOR, "team", "Team", "USD", Interval.MONTH, (Price("", Flat(3000)),))
    )
    return await tenant(engine, handlers, clock), await tenant(engine, handlers, clock)


async def row_counts(engine: AsyncEngine, org: str, *, reading: bool = False) -> dict[str, int]:
    """How many rows of each policed table a unit of work acting for ``org`` sees, with no
    filter at all (``reading``: a read's, each statement its own transaction)."""
    with acting_for(org):
        async with SqlUnitOfWork(engine, FakeClock(), read_only=reading) as uow:
            conn = uow._transaction.connection
            return {
                name: len((await conn.execute(select(table))).all())
                for name, table in POLICED.items()
            }


@pytest.mark.parametrize("reading", [False, True], ids=["uow", "reads"])
async def test_a_query_without_its_org_filter_sees_only_the_acting_org(
    engine: AsyncEngine, admin_engine: AsyncEngine, two: tuple[Tenant, Tenant], reading: bool
) -> None:
    # The same for a read, whose statements each run in a transaction of their own.
    a, b = two
    mine = await row_counts(engine, a.org, reading=reading)
    assert all(mine.values()), mine  # a row of a in every table
    async with admin_engine.connect() as conn:  # what the database holds
        everyone = {
            name: len((await conn.execute(select(table))).all()) for name, table in POLICED.items()
        }
    assert everyone == {name: 2 * count for name, count in mine.items()}
    with acting_for(a.org):
        async with SqlUnitOfWork(engine, FakeClock(), read_only=reading) as uow:
            # The repositories, handed the other organization's ids and org, find nothing.
            assert await uow.subscriptions.get(b.org, b.subscription_id) is None
            assert await uow.invoices.get(b.org, b.invoice_id) is None
            assert await uow.webhooks.get(b.org, b.endpoint_id) is None
            assert await uow.subscriptions.pending_adjustments(b.subscription_id) == ()
            assert await uow.deliveries.list_for_endpoint(b.endpoint_id, before=None, limit=9) == []


async def test_without_an_organization_nothing_is_visible_or_writable(
    engine: AsyncEngine, two: tuple[Tenant, Tenant]
) -> None:
    assert set((await row_counts(engine, "")).values()) == {0}
    handlers = build_handlers(engine, FakeLedger())  # no principal bound
    with pytest.raises(ProgrammingError, match="row-level security"):
        await handlers.subscriptions.create(
            CreateSubscription(owner(str(uuid.uuid4())), "free", "")
        )


async def test_a_write_for_another_organization_is_refused(
    engine: AsyncEngine, two: tuple[Tenant, Tenant]
) -> None:
    a, b = two
    with acting_for(a.org):
        async with SqlUnitOfWork(engine, FakeClock()) as uow:
            conn = uow._transaction.connection
            with pytest.raises(ProgrammingError, match="row-level security"):
                await conn.execute(
                    invoices.update()
                    .where(invoices.c.invoice_id == a.invoice_id)
                    .values(org_id=b.org)
                )
        async with SqlUnitOfWork(engine, FakeClock()) as uow:
            # A delivery queued to the other organization's endpoint: its parent is unseen.
            with pytest.raises(ProgrammingError, match="row-level security"):
                await uow._transaction.connection.execute(
                    webhook_deliveries.insert().values(
                        delivery_id=uuid.uuid4(),
                        webhook_endpoint_id=b.endpoint_id,
                        event_id=uuid.uuid4(),
                        event_type="billing.invoice.paid",
                        body=b"{}",
                        next_attempt_time=datetime.now(UTC),
                        create_time=datetime.now(UTC),
                    )
                )


async def test_only_the_jobs_functions_cross_organizations(
    engine: AsyncEngine, two: tuple[Tenant, Tenant]
) -> None:
    later = datetime.now(UTC) + timedelta(days=90)
    async with engine.connect() as conn:
        # Acting for no organization, the functions still find every organization's work...
        due = await conn.execute(
            text("SELECT org_id FROM billing_due_subscriptions(:t, 10, '{}')"), {"t": later}
        )
        with_deliveries = await conn.execute(
            text("SELECT * FROM billing_organizations_with_due_deliveries(:t, 10)"), {"t": later}
        )
        # ...which the same session's own queries do not see.
        direct = await conn.execute(text("SELECT count(*) FROM subscriptions"))
        assert {r[0] for r in due} == {t.org for t in two}
        assert {r[0] for r in with_deliveries} == {t.org for t in two}
        assert direct.scalar_one() == 0


@pytest.mark.parametrize("table", sorted(POLICED))
@pytest.mark.parametrize("statement", ROW_SECURITY_LIFTS)
def test_the_runtime_role_cannot_lift_the_policies(
    engine: AsyncEngine, runtime_database_url: str, table: str, statement: str
) -> None:
    with (
        psycopg.connect(runtime_database_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement.format(table))


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE FUNCTION spy() RETURNS SETOF invoices LANGUAGE sql SECURITY DEFINER"
        " AS 'SELECT * FROM invoices'",
        "ALTER FUNCTION billing_paid_unchecked(integer) SECURITY INVOKER",
        "CREATE OR REPLACE FUNCTION billing_paid_unchecked(max_rows integer)"
        " RETURNS SETOF invoices LANGUAGE sql AS 'SELECT * FROM invoices'",
    ],
)
def test_the_runtime_role_cannot_make_or_change_a_function(
    engine: AsyncEngine, runtime_database_url: str, statement: str
) -> None:
    with (
        psycopg.connect(runtime_database_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


def test_the_policed_tables_force_row_level_security(
    engine: AsyncEngine, runtime_database_url: str
) -> None:
    rows = row_security_flags(runtime_database_url, POLICED)
    assert rows == [(t, True, True) for t in sorted(POLICED)]
