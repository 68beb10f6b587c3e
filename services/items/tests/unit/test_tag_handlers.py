"""Tag handlers against in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from items.app import commands
from items.app.items import ItemHandlers
from items.app.tags import TagHandlers
from items.domain.errors import RequestIdReused, TagAlreadyExists, TagNotFound
from items.domain.model import ItemState, Source
from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused


@pytest.fixture
def tags(fake_state: Any, clock: Any, ids: Callable[[], UUID]) -> TagHandlers:
    return TagHandlers(fake_state.uow, clock=clock, new_id=ids)


async def test_create_normalizes_and_refuses_duplicates(tags: TagHandlers, member: Caller) -> None:
    tag = await tags.create_tag(commands.CreateTag(member, "Machine Learning"))
    assert tag.name == "machine-learning"
    with pytest.raises(TagAlreadyExists):
        await tags.create_tag(commands.CreateTag(member, "machine_learning"))


async def test_create_is_idempotent_on_request_id(tags: TagHandlers, member: Caller) -> None:
    first = await tags.create_tag(commands.CreateTag(member, "Read Later", request_id="r1"))
    # A retry (the same name, however spelled) returns the first tag, renamed or not.
    await tags.rename_tag(commands.RenameTag(member, first.id, "later"))
    again = await tags.create_tag(commands.CreateTag(member, "read_later", request_id="r1"))
    assert (again.id, again.name) == (first.id, "later")
    with pytest.raises(RequestIdReused) as refused:
        await tags.create_tag(commands.CreateTag(member, "other", request_id="r1"))
    assert refused.value.metadata == {"request_id": "r1", "tag_id": str(first.id)}
    # Without a request id, a taken name is still TAG_ALREADY_EXISTS.
    with pytest.raises(TagAlreadyExists):
        await tags.create_tag(commands.CreateTag(member, "later"))


async def test_list_is_per_org_by_name_and_paged(
    tags: TagHandlers, member: Caller, outsider: Caller
) -> None:
    for name in ["c", "a", "b"]:
        await tags.create_tag(commands.CreateTag(member, name))
    await tags.create_tag(commands.CreateTag(outsider, "z"))
    first = await tags.list_tags(commands.ListTags(member, page_size=2))
    assert [t.name for t in first.tags] == ["a", "b"]
    second = await tags.list_tags(
        commands.ListTags(member, page_size=2, page_token=first.next_page_token)
    )
    assert ([t.name for t in second.tags], second.next_page_token) == (["c"], "")


async def test_rename_and_delete_follow_items(
    tags: TagHandlers, fake_state: Any, clock: Any, ids: Callable[[], UUID], member: Caller
) -> None:
    items = ItemHandlers(fake_state.uow, clock=clock, new_id=ids)
    item = await items.create_item(commands.CreateItem(member, Source(note="n")))
    fake_state.items[item.id].state = ItemState.READY_TO_CONFIRM
    fake_state.items[item.id].tags = ("db", "pg")
    await items.confirm_item(commands.ChangeState(member, item.id))
    db = next(t for t in fake_state.tags.values() if t.name == "db")

    renamed = await tags.rename_tag(commands.RenameTag(member, db.id, "Databases"))
    assert (renamed.name, renamed.item_count) == ("databases", 1)
    assert fake_state.items[item.id].tags == ("databases", "pg")
    with pytest.raises(TagAlreadyExists):
        await tags.rename_tag(commands.RenameTag(member, db.id, "pg"))

    await tags.delete_tag(commands.DeleteTag(member, db.id))
    assert fake_state.items[item.id].tags == ("pg",)
    with pytest.raises(TagNotFound):
        await tags.delete_tag(commands.DeleteTag(member, db.id))


async def test_other_orgs_tags_are_not_found(
    tags: TagHandlers, member: Caller, outsider: Caller
) -> None:
    tag = await tags.create_tag(commands.CreateTag(member, "x"))
    with pytest.raises(TagNotFound):
        await tags.rename_tag(commands.RenameTag(outsider, tag.id, "y"))


async def test_readers_cannot_change_tags(tags: TagHandlers, reader: Caller) -> None:
    with pytest.raises(CallerRefused):
        await tags.create_tag(commands.CreateTag(reader, "x"))
    await tags.list_tags(commands.ListTags(reader))
