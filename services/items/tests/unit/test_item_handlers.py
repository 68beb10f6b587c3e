"""Item handlers against in-memory fakes of the unit of work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from items.app import commands
from items.app.items import ItemHandlers
from items.domain import events
from items.domain.errors import (
    InvalidStateTransition,
    InvalidUpdateMask,
    ItemNotEditable,
    ItemNotFound,
    RequestIdReused,
)
from items.domain.model import ItemState, Source
from keel_runtime import paging
from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused

URL = Source(url="https://example.com/postgres-search")
REQUEST_ID = "7b0c8f64-3f4b-4c59-9a55-3c1a2b9d4e10"


@pytest.fixture
def handlers(fake_state: Any, clock: Any, ids: Callable[[], UUID]) -> ItemHandlers:
    return ItemHandlers(fake_state.uow, clock=clock, new_id=ids)


def set_state(fake_state: Any, item_id: UUID, state: ItemState, **fields: Any) -> None:
    item = fake_state.items[item_id]
    item.state = state
    for name, value in fields.items():
        setattr(item, name, value)


async def test_create_item_is_enriching_in_the_callers_org(
    handlers: ItemHandlers, fake_state: Any, member: Caller
) -> None:
    item = await handlers.create_item(commands.CreateItem(member, URL, REQUEST_ID))
    assert (item.state, item.org_id, item.created_by) == (ItemState.ENRICHING, "org-a", "user-1")
    assert fake_state.items[item.id].request_id == REQUEST_ID
    assert fake_state.published == [events.ItemCreated(item.id, "org-a", URL.url, None, "user-1")]


async def test_create_repeat_returns_first_item_without_second_event(
    handlers: ItemHandlers, fake_state: Any, member: Caller
) -> None:
    first = await handlers.create_item(commands.CreateItem(member, URL, REQUEST_ID))
    again = await handlers.create_item(commands.CreateItem(member, URL, REQUEST_ID))
    assert again.id == first.id
    assert len(fake_state.items) == 1
    assert len(fake_state.published) == 1


async def test_create_repeat_with_other_payload_is_request_id_reused(
    handlers: ItemHandlers, fake_state: Any, member: Caller
) -> None:
    first = await handlers.create_item(commands.CreateItem(member, URL, REQUEST_ID))
    with pytest.raises(RequestIdReused) as raised:
        await handlers.create_item(commands.CreateItem(member, Source(note="x"), REQUEST_ID))
    assert raised.value.reason == "REQUEST_ID_REUSED"
    assert raised.value.metadata["item_id"] == str(first.id)
    assert len(fake_state.items) == 1


async def test_request_ids_are_scoped_per_org(
    handlers: ItemHandlers, member: Caller, outsider: Caller
) -> None:
    a = await handlers.create_item(commands.CreateItem(member, URL, REQUEST_ID))
    b = await handlers.create_item(commands.CreateItem(outsider, URL, REQUEST_ID))
    assert a.id != b.id


async def test_create_without_request_id_always_creates(
    handlers: ItemHandlers, fake_state: Any, member: Caller
) -> None:
    await handlers.create_item(commands.CreateItem(member, URL))
    await handlers.create_item(commands.CreateItem(member, URL))
    assert len(fake_state.items) == 2


async def test_get_item_of_another_org_is_not_found(
    handlers: ItemHandlers, member: Caller, outsider: Caller
) -> None:
    item = await handlers.create_item(commands.CreateItem(member, URL))
    assert (await handlers.get_item(member, item.id)).id == item.id
    with pytest.raises(ItemNotFound):
        await handlers.get_item(outsider, item.id)


async def test_readers_read_but_cannot_write(
    handlers: ItemHandlers, member: Caller, reader: Caller
) -> None:
    item = await handlers.create_item(commands.CreateItem(member, URL))
    await handlers.get_item(reader, item.id)
    with pytest.raises(CallerRefused):
        await handlers.create_item(commands.CreateItem(reader, URL))
    with pytest.raises(CallerRefused):
        await handlers.discard_item(commands.ChangeState(reader, item.id))


async def test_api_keys_need_a_role(handlers: ItemHandlers) -> None:
    bare = Caller(subject="key-1", org_id="org-a", kind="api_key")
    with pytest.raises(CallerRefused):
        await handlers.list_items(commands.ListItems(bare))
    writer = Caller("key-2", "org-a", frozenset({"MEMBER"}), frozenset({"items:write"}), "api_key")
    await handlers.create_item(commands.CreateItem(writer, URL))


async def test_confirm_creates_tags_and_records_confirmation(
    handlers: ItemHandlers, fake_state: Any, member: Caller
) -> None:
    item = await handlers.create_item(commands.CreateItem(member, URL))
    set_state(fake_state, item.id, ItemState.READY_TO_CONFIRM, tags=("db", "search"))
    confirmed = await handlers.confirm_item(commands.ChangeState(member, item.id))
    assert confirmed.state is ItemState.CONFIRMED
    assert sorted(t.name for t in fake_state.tags.values()) == ["db", "search"]
    assert isinstance(fake_state.published[-1], events.ItemConfirmed)
    assert fake_state.published[-1].org_id == "org-a"


@pytest.mark.parametrize(
    "state", [ItemState.ENRICHING, ItemState.FAILED, ItemState.CONFIRMED, ItemState.DISCARDED]
)
async def test_confirm_from_other_states_fails_without_writing(
    handlers: ItemHandlers, fake_state: Any, member: Caller, state: ItemState
) -> None:
    item = await handlers.create_item(commands.CreateItem(member, URL))
    set_state(fake_state, item.id, state, tags=("db",))
    commits = fake_state.commits
    with pytest.raises(InvalidStateTransition):
        await handlers.confirm_item(commands.ChangeState(member, item.id))
    assert fake_state.commits == commits
    assert fake_state.items[item.id].state is state
    assert fake_state.tags == {}


async def test_discard_and_retry(handlers: ItemHandlers, fake_state: Any, member: Caller) -> None:
    item = await handlers.create_item(commands.CreateItem(member, URL))
    with pytest.raises(InvalidStateTransition):
        await handlers.retry_enrichment(commands.ChangeState(member, item.id))
    set_state(fake_state, item.id, ItemState.FAILED, enrichment_attempts=3)
    retried = await handlers.retry_enrichment(commands.ChangeState(member, item.id))
    assert (retried.state, retried.enrichment_attempts) == (ItemState.ENRICHING, 0)
    assert isinstance(fake_state.published[-1], events.EnrichmentRequested)
    discarded = await handlers.discard_item(commands.ChangeState(member, item.id))
    assert discarded.state is ItemState.DISCARDED
    assert isinstance(fake_state.published[-1], events.ItemDiscarded)


async def test_change_of_unknown_item_is_not_found(handlers: ItemHandlers, member: Caller) -> None:
    with pytest.raises(ItemNotFound):
        await handlers.confirm_item(commands.ChangeState(member, UUID(int=99)))


async def test_update_applies_only_masked_fields(
    handlers: ItemHandlers, fake_state: Any, member: Caller
) -> None:
    item = await handlers.create_item(commands.CreateItem(member, URL))
    set_state(fake_state, item.id, ItemState.READY_TO_CONFIRM, title="Old", summary="Keep")
    updated = await handlers.update_item(
        commands.UpdateItem(
            member, item.id, ("title", "tags"), title="New", summary="X", tags=("A B",)
        )
    )
    assert (updated.title, updated.summary, updated.tags) == ("New", "Keep", ("a-b",))
    # Tags of items under review are suggestions: no organization tag yet.
    assert fake_state.tags == {}


async def test_update_of_library_item_creates_its_tags(
    handlers: ItemHandlers, fake_state: Any, member: Caller
) -> None:
    item = await handlers.create_item(commands.CreateItem(member, URL))
    set_state(fake_state, item.id, ItemState.CONFIRMED)
    await handlers.update_item(commands.UpdateItem(member, item.id, ("*",), tags=("new",)))
    assert [t.name for t in fake_state.tags.values()] == ["new"]


@pytest.mark.parametrize("mask", [(), ("state",), ("*", "title")])
async def test_update_rejects_bad_masks(
    handlers: ItemHandlers, fake_state: Any, member: Caller, mask: tuple[str, ...]
) -> None:
    item = await handlers.create_item(commands.CreateItem(member, URL))
    set_state(fake_state, item.id, ItemState.READY_TO_CONFIRM)
    with pytest.raises(InvalidUpdateMask):
        await handlers.update_item(commands.UpdateItem(member, item.id, mask, title="x"))


async def test_update_while_enriching_is_refused(handlers: ItemHandlers, member: Caller) -> None:
    item = await handlers.create_item(commands.CreateItem(member, URL))
    with pytest.raises(ItemNotEditable):
        await handlers.update_item(commands.UpdateItem(member, item.id, ("title",), title="x"))


async def test_list_collections_tags_and_pages(
    handlers: ItemHandlers, fake_state: Any, member: Caller, outsider: Caller
) -> None:
    created = [await handlers.create_item(commands.CreateItem(member, URL)) for _ in range(5)]
    await handlers.create_item(commands.CreateItem(outsider, URL))
    set_state(fake_state, created[0].id, ItemState.CONFIRMED, tags=("db",))
    set_state(fake_state, created[1].id, ItemState.DISCARDED)

    async def ids(**query: Any) -> list[UUID]:
        page = await handlers.list_items(commands.ListItems(member, **query))
        return [i.id for i in page.items]

    newest_first = [i.id for i in reversed(created)]
    assert await ids() == [i for i in newest_first if i != created[1].id]
    assert await ids(collection="LIBRARY") == [created[0].id]
    assert await ids(collection="DISCARDED") == [created[1].id]
    assert await ids(collection="PENDING") == newest_first[:3]
    assert await ids(tag="DB") == [created[0].id]

    first = await handlers.list_items(commands.ListItems(member, collection="PENDING", page_size=2))
    assert [i.id for i in first.items] == newest_first[:2]
    second = await handlers.list_items(
        commands.ListItems(
            member, collection="PENDING", page_size=2, page_token=first.next_page_token
        )
    )
    assert [i.id for i in second.items] == newest_first[2:3]
    assert second.next_page_token == ""
    with pytest.raises(paging.InvalidPageToken):
        await handlers.list_items(
            commands.ListItems(member, collection="LIBRARY", page_token=first.next_page_token)
        )
    with pytest.raises(paging.InvalidPageToken):
        await handlers.list_items(commands.ListItems(member, page_token="garbage!"))
