"""Item handlers on PostgreSQL: idempotent creates, atomic outbox writes, locking."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from keel.items.v1 import events_pb2
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from items.app import commands
from items.app.items import ItemHandlers
from items.domain.errors import InvalidStateTransition, RequestIdReused
from items.domain.model import ItemState, Source
from items.events.codec import EventCodec
from items.storage.tables import items, outbox
from items.storage.uow import SqlUnitOfWork
from keel_runtime.caller import Caller
from keel_runtime.db import set_tenant
from keel_runtime.events import decode, unpack

pytestmark = pytest.mark.integration

MEMBER = Caller(subject="user-1", org_id="org-a", roles=frozenset({"MEMBER"}))
REQUEST_ID = "0b6c9f0e-5d4a-4f1e-8c1b-2a3d4e5f6a7b"
URL = Source(url="https://example.com/postgres-full-text-search")


async def count(engine: AsyncEngine, table: Any) -> int:
    """Rows of ``table`` MEMBER's organization sees (items are under row-level security)."""
    async with engine.begin() as conn:
        await set_tenant(conn, MEMBER.org_id)
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def outbox_types(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.payload).order_by(outbox.c.created_at))
        return [decode(row.payload).type for row in rows]


@pytest.fixture
def handlers(
    sql_uow: Callable[[], SqlUnitOfWork], sql_reads: Callable[[], SqlUnitOfWork]
) -> ItemHandlers:
    return ItemHandlers(sql_uow, reads=sql_reads)  # as the server reads


async def test_create_writes_item_and_event_together(
    handlers: ItemHandlers, engine: AsyncEngine, codec: EventCodec
) -> None:
    item = await handlers.create_item(commands.CreateItem(MEMBER, URL, REQUEST_ID))
    async with engine.connect() as conn:
        row = (await conn.execute(select(outbox))).one()
    envelope = decode(row.payload)
    assert (row.subject, envelope.subject, envelope.org_id) == (
        codec.subject("item.created"),
        str(item.id),
        "org-a",
    )
    assert unpack(envelope, events_pb2.ItemCreated).url == URL.url


async def test_create_is_idempotent_on_request_id(
    handlers: ItemHandlers, engine: AsyncEngine
) -> None:
    first = await handlers.create_item(commands.CreateItem(MEMBER, URL, REQUEST_ID))
    again = await handlers.create_item(commands.CreateItem(MEMBER, URL, REQUEST_ID))
    assert again == first
    with pytest.raises(RequestIdReused):
        await handlers.create_item(commands.CreateItem(MEMBER, Source(note="other"), REQUEST_ID))
    assert (await count(engine, items), await count(engine, outbox)) == (1, 1)


async def test_concurrent_creates_with_one_request_id_make_one_item(
    handlers: ItemHandlers, engine: AsyncEngine
) -> None:
    results = await asyncio.gather(
        *(handlers.create_item(commands.CreateItem(MEMBER, URL, REQUEST_ID)) for _ in range(4))
    )
    assert len({item.id for item in results}) == 1
    assert (await count(engine, items), await count(engine, outbox)) == (1, 1)


async def test_a_failure_before_commit_leaves_no_partial_write(
    engine: AsyncEngine, codec: EventCodec
) -> None:
    class BrokenCodec(EventCodec):
        def to_envelope(self, event: Any) -> Any:
            raise RuntimeError("cannot encode")

    broken = ItemHandlers(
        lambda: SqlUnitOfWork(engine, BrokenCodec(codec.namespace), org_id=MEMBER.org_id)
    )
    with pytest.raises(RuntimeError, match="cannot encode"):
        await broken.create_item(commands.CreateItem(MEMBER, URL, REQUEST_ID))
    assert (await count(engine, items), await count(engine, outbox)) == (0, 0)
    # The request id is still free: the retry creates the item.
    item = await ItemHandlers(
        lambda: SqlUnitOfWork(engine, codec, org_id=MEMBER.org_id)
    ).create_item(commands.CreateItem(MEMBER, URL, REQUEST_ID))
    assert item.state is ItemState.ENRICHING


async def test_confirm_creates_tags_and_emits_confirmed(
    handlers: ItemHandlers, engine: AsyncEngine, codec: EventCodec
) -> None:
    item = await handlers.create_item(commands.CreateItem(MEMBER, URL))
    async with SqlUnitOfWork(engine, codec, org_id=MEMBER.org_id) as uow:
        loaded = await uow.items.get("org-a", item.id)
        assert loaded is not None
        loaded.state, loaded.tags = ItemState.READY_TO_CONFIRM, ("db", "search")
        await uow.items.save(loaded)
        await uow.commit()
    confirmed = await handlers.confirm_item(commands.ChangeState(MEMBER, item.id))
    assert confirmed.state is ItemState.CONFIRMED
    assert await outbox_types(engine) == [
        codec.subject("item.created"),
        codec.subject("item.confirmed"),
    ]
    async with SqlUnitOfWork(engine, codec, org_id=MEMBER.org_id) as uow:
        tags = await uow.tags.list("org-a", after_name=None, limit=10)
    assert [(t.name, t.item_count) for t in tags] == [("db", 1), ("search", 1)]


async def test_concurrent_confirm_and_discard_one_wins(
    handlers: ItemHandlers, engine: AsyncEngine, codec: EventCodec
) -> None:
    item = await handlers.create_item(commands.CreateItem(MEMBER, URL))
    async with SqlUnitOfWork(engine, codec, org_id=MEMBER.org_id) as uow:
        loaded = await uow.items.get("org-a", item.id)
        assert loaded is not None
        loaded.state = ItemState.READY_TO_CONFIRM
        await uow.items.save(loaded)
        await uow.commit()
    change = commands.ChangeState(MEMBER, item.id)
    results = await asyncio.gather(
        handlers.confirm_item(change), handlers.discard_item(change), return_exceptions=True
    )
    assert sum(isinstance(r, InvalidStateTransition) for r in results) == 1
    assert len(await outbox_types(engine)) == 2  # created + the winner's event


async def test_full_text_search_and_tag_filter(handlers: ItemHandlers) -> None:
    pg = await handlers.create_item(commands.CreateItem(MEMBER, URL))
    note = await handlers.create_item(
        commands.CreateItem(MEMBER, Source(note="Recipes for sourdough bread"))
    )

    async def found(query: str) -> list[Any]:
        page = await handlers.list_items(commands.ListItems(MEMBER, query=query))
        return [i.id for i in page.items]

    assert await found("postgres") == [pg.id]
    assert await found("bread") == [note.id]
    assert await found("recipe") == [note.id]  # English stemming: "recipe" finds "Recipes"
    assert await found('"full text" -bread') == [pg.id]
    assert await found("nothing-like-this") == []
