"""One repository suite, run against PostgreSQL and against the unit tests' in-memory fake.

A unit of work acts for one organization (row-level security on PostgreSQL): org-a unless
the test says ``acting_for`` another.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from items.app.ports import ItemCursor, ItemQuery
from items.domain.model import Item, ItemState, Source, Tag
from keel_runtime.db import acting_for

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ALL = frozenset(ItemState)


@pytest.fixture(params=["postgres", "fake"])
def uow(request: pytest.FixtureRequest) -> Callable[[], Any]:
    if request.param == "postgres":
        return request.getfixturevalue("sql_uow")  # type: ignore[no-any-return]
    return request.getfixturevalue("fake_state").uow  # type: ignore[no-any-return]


def new_item(
    org: str = "org-a", minutes: int = 0, request_id: str | None = None, **kw: Any
) -> Item:
    item = Item.create(
        item_id=uuid4(),
        org_id=org,
        source=kw.pop("source", Source(url="https://example.com/x")),
        created_by="user-1",
        now=T0 + timedelta(minutes=minutes),
        request_id=request_id,
    )
    item.pull_events()
    return dataclasses.replace(item, **kw)


async def add(uow: Callable[[], Any], *items: Item) -> None:
    """Each item added by a unit of work acting for the item's organization."""
    for org in dict.fromkeys(item.org_id for item in items):
        with acting_for(org):
            async with uow() as u:
                for item in items:
                    if item.org_id == org:
                        assert await u.items.add(item)
                await u.commit()


async def test_add_get_round_trip_and_org_scope(uow: Callable[[], Any]) -> None:
    item = new_item(title="T", tags=("a", "b"), request_id="r1")
    await add(uow, item)
    async with uow() as u:
        assert await u.items.get("org-a", item.id) == item
        assert await u.items.get("org-b", item.id) is None
        assert await u.items.get_by_request_id("org-a", "r1") == item
        assert await u.items.get_by_request_id("org-b", "r1") is None


async def test_add_refuses_a_used_request_id_per_org(uow: Callable[[], Any]) -> None:
    await add(uow, new_item(request_id="r1"))
    async with uow() as u:
        assert not await u.items.add(new_item(request_id="r1"))
        assert await u.items.add(new_item())  # no request id: never a conflict
        assert await u.items.add(new_item())
    with acting_for("org-b"):
        async with uow() as u:
            assert await u.items.add(new_item(org="org-b", request_id="r1"))


async def test_uncommitted_work_is_rolled_back(uow: Callable[[], Any]) -> None:
    item = new_item()
    async with uow() as u:
        await u.items.add(item)
    async with uow() as u:
        assert await u.items.get("org-a", item.id) is None


async def test_save_writes_mutable_fields(uow: Callable[[], Any]) -> None:
    item = new_item()
    await add(uow, item)
    item.state = ItemState.CONFIRMED
    item.title, item.summary, item.tags = "T", "S", ("x",)
    item.enrichment_attempts, item.failure_reason = 2, "r"
    item.update_time = item.confirm_time = T0 + timedelta(hours=1)
    async with uow() as u:
        await u.items.save(item)
        await u.commit()
    async with uow() as u:
        assert await u.items.get("org-a", item.id, for_update=True) == item


async def test_list_filters_orders_and_pages(uow: Callable[[], Any]) -> None:
    a = new_item(minutes=1, tags=("db",), title="Postgres search")
    b = new_item(minutes=2, state=ItemState.CONFIRMED, tags=("db", "x"))
    c = new_item(minutes=3, state=ItemState.DISCARDED)
    other = new_item(org="org-b", minutes=4)
    await add(uow, a, b, c, other)

    async def ids(**kw: Any) -> list[UUID]:
        query = ItemQuery(**{"org_id": "org-a", "states": ALL, "limit": 10, **kw})
        async with uow() as u:
            return [i.id for i in await u.items.list(query)]

    assert await ids() == [c.id, b.id, a.id]
    assert await ids(states=frozenset({ItemState.CONFIRMED})) == [b.id]
    assert await ids(tag="db") == [b.id, a.id]
    assert await ids(text="postgres") == [a.id]
    assert await ids(limit=2) == [c.id, b.id]
    assert await ids(after=ItemCursor(b.create_time, b.id)) == [a.id]


async def test_replace_and_remove_tag(uow: Callable[[], Any]) -> None:
    a = new_item(tags=("old", "keep"))
    b = new_item(tags=("new", "old"))
    other = new_item(org="org-b", tags=("old",))
    await add(uow, a, b, other)
    async with uow() as u:
        await u.items.replace_tag("org-a", "old", "new")
        await u.commit()
    async with uow() as u:
        assert (await u.items.get("org-a", a.id)).tags == ("new", "keep")
        assert (await u.items.get("org-a", b.id)).tags == ("new",)
        await u.items.remove_tag("org-a", "new")
        await u.commit()
    with acting_for("org-b"):
        async with uow() as u:
            assert (await u.items.get("org-b", other.id)).tags == ("old",)
    async with uow() as u:
        assert (await u.items.get("org-a", a.id)).tags == ("keep",)


async def test_tags_ensure_add_rename_delete_list(uow: Callable[[], Any]) -> None:
    await add(uow, new_item(state=ItemState.CONFIRMED, tags=("db",)))
    async with uow() as u:
        await u.tags.ensure("org-a", ["db", "pg"], T0)
        await u.tags.ensure("org-a", ["db"], T0)  # already there: no error, no duplicate
        assert not await u.tags.add(Tag(uuid4(), "org-a", "pg", T0))
        await u.commit()
    with acting_for("org-b"):
        async with uow() as u:
            assert await u.tags.add(Tag(uuid4(), "org-b", "pg", T0))
            await u.commit()
    async with uow() as u:
        listed = await u.tags.list("org-a", after_name=None, limit=10)
        assert [(t.name, t.item_count) for t in listed] == [("db", 1), ("pg", 0)]
        assert [t.name for t in await u.tags.list("org-a", after_name="db", limit=10)] == ["pg"]
        db = await u.tags.get_by_name("org-a", "db")
        assert db is not None and await u.tags.get("org-b", db.id) is None
        assert not await u.tags.rename(db, "pg")
        assert await u.tags.rename(db, "database")  # a refused rename did not spoil the work
        await u.commit()
    async with uow() as u:
        renamed = await u.tags.get("org-a", db.id, for_update=True)
        assert renamed is not None and renamed.name == "database"
        await u.tags.delete(renamed)
        await u.commit()
    async with uow() as u:
        assert [t.name for t in await u.tags.list("org-a", after_name=None, limit=10)] == ["pg"]


async def test_tags_remember_their_request_id_per_org(uow: Callable[[], Any]) -> None:
    first = Tag(uuid4(), "org-a", "db", T0, request_id="r1", request_fingerprint="f1")
    async with uow() as u:
        assert await u.tags.add(first)
        # The same request id under another name is refused like a taken name.
        assert not await u.tags.add(Tag(uuid4(), "org-a", "pg", T0, request_id="r1"))
        assert await u.tags.add(Tag(uuid4(), "org-a", "pg", T0))  # no request id: no conflict
        await u.commit()
    async with uow() as u:
        found = await u.tags.get_by_request_id("org-a", "r1")
        assert found is not None
        assert (found.id, found.request_id, found.request_fingerprint) == (first.id, "r1", "f1")
        assert await u.tags.get_by_request_id("org-a", "r2") is None
    with acting_for("org-b"):
        async with uow() as u:
            assert await u.tags.get_by_request_id("org-b", "r1") is None
            assert await u.tags.add(Tag(uuid4(), "org-b", "db", T0, request_id="r1"))
