"""Tenant isolation held by PostgreSQL itself, as the runtime role the service serves with.

Row-level security on items and tags: a query that forgot its org filter still returns
nothing of another organization, a write for another organization is refused, and the
runtime role can neither switch the policies off nor change the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from items.domain.model import Item, ItemState, Source, Tag
from items.events.codec import EventCodec
from items.storage.tables import items, tags
from items.storage.uow import SqlUnitOfWork
from keel_runtime.db import acting_for

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def new_item(org: str) -> Item:
    item = Item.create(
        item_id=uuid4(), org_id=org, source=Source(note=f"a note of {org}"), created_by="u1", now=T0
    )
    item.pull_events()
    return item


async def seed(uow: Callable[[], SqlUnitOfWork]) -> dict[str, Item]:
    seeded = {}
    for org in ("org-a", "org-b"):
        item = new_item(org)
        with acting_for(org):
            async with uow() as u:
                assert await u.items.add(item)
                assert await u.tags.add(Tag(uuid4(), org, f"tag-{org}", T0))
                await u.commit()
        seeded[org] = item
    return seeded


@pytest.mark.parametrize("reading", [False, True])
async def test_a_query_without_its_org_filter_sees_only_the_acting_org(
    sql_uow: Callable[[], SqlUnitOfWork],
    sql_reads: Callable[[], SqlUnitOfWork],
    reading: bool,
) -> None:
    # The same for a read, whose statements each run in a transaction of their own.
    seeded = await seed(sql_uow)
    with acting_for("org-a"):
        async with (sql_reads if reading else sql_uow)() as u:
            # The repositories' own queries, with the org condition deliberately left out.
            seen_items = (await u._transaction.connection.execute(select(items.c.id))).all()
            seen_tags = (await u._transaction.connection.execute(select(tags.c.name))).all()
            # A repository asked for the other org's row finds nothing either.
            assert await u.items.get("org-b", seeded["org-b"].id) is None
    assert [row.id for row in seen_items] == [seeded["org-a"].id]
    assert [row.name for row in seen_tags] == ["tag-org-a"]


async def test_without_an_organization_nothing_is_visible_or_writable(
    sql_uow: Callable[[], SqlUnitOfWork], engine: AsyncEngine, codec: EventCodec
) -> None:
    await seed(sql_uow)
    # No principal and no acting_for: the unit of work acts for no organization.
    async with SqlUnitOfWork(engine, codec) as u:
        assert (await u._transaction.connection.execute(select(items.c.id))).all() == []
        with pytest.raises(ProgrammingError, match="row-level security"):
            await u.items.add(new_item("org-a"))


async def test_a_write_for_another_organization_is_refused(
    sql_uow: Callable[[], SqlUnitOfWork],
) -> None:
    with acting_for("org-a"):
        async with sql_uow() as u:
            with pytest.raises(ProgrammingError, match="row-level security"):
                await u.items.add(new_item("org-b"))


async def test_an_update_cannot_move_a_row_to_another_organization(
    sql_uow: Callable[[], SqlUnitOfWork],
) -> None:
    seeded = await seed(sql_uow)
    with acting_for("org-a"):
        async with sql_uow() as u:
            with pytest.raises(ProgrammingError, match="row-level security"):
                await u._transaction.connection.execute(
                    items.update()
                    .where(items.c.id == seeded["org-a"].id)
                    .values(org_id="org-b", state=ItemState.CONFIRMED.value)
                )


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE items NO FORCE ROW LEVEL SECURITY",
        "ALTER TABLE items DISABLE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON items",
        "ALTER TABLE items DISABLE TRIGGER ALL",
        "ALTER TABLE items ADD COLUMN spy text",
        "CREATE TABLE spy (id int)",
        "CREATE TEMPORARY TABLE spy (id int)",
    ],
)
async def test_the_runtime_role_cannot_lift_the_policies_or_change_the_schema(
    migrated_url: str, statement: str
) -> None:
    with (
        psycopg.connect(migrated_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


def test_the_runtime_role_is_neither_owner_nor_privileged(migrated_url: str) -> None:
    with psycopg.connect(migrated_url) as conn:
        row = conn.execute(
            "SELECT r.rolsuper, r.rolinherit, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,"
            " (SELECT tableowner FROM pg_tables WHERE tablename = 'items') = current_user,"
            " (SELECT relforcerowsecurity FROM pg_class WHERE relname = 'items')"
            " FROM pg_roles r WHERE r.rolname = current_user"
        ).fetchone()
    assert row == (False, False, False, False, False, False, True)
