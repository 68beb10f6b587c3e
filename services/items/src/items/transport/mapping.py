"""Request messages -> commands; the caller from the principal. Resources: items.contract."""

from __future__ import annotations

from uuid import UUID

from keel.items.v1 import item_service_pb2, tag_service_pb2

from items.app import commands
from items.domain.errors import ItemNotFound, TagNotFound
from items.domain.model import Source
from keel_runtime.caller import Caller
from keel_runtime.context import Principal

_COLLECTIONS = {
    item_service_pb2.ITEM_COLLECTION_UNSPECIFIED: "ALL",
    item_service_pb2.ITEM_COLLECTION_PENDING: "PENDING",
    item_service_pb2.ITEM_COLLECTION_LIBRARY: "LIBRARY",
    item_service_pb2.ITEM_COLLECTION_DISCARDED: "DISCARDED",
}


def caller(principal: Principal) -> Caller:
    """The caller of a call; every item and tag belongs to an organization, so it needs one."""
    who = Caller.from_principal(principal)
    who.require_org()
    return who


def item_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        # Validation rejects malformed ids first; no item can have one anyway.
        raise ItemNotFound(f"item {value!r} not found", item_id=value) from None


def tag_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise TagNotFound(f"tag {value!r} not found", tag_id=value) from None


def create_item(request: item_service_pb2.CreateItemRequest, who: Caller) -> commands.CreateItem:
    kind = request.WhichOneof("source")
    source = Source(url=request.url) if kind == "url" else Source(note=request.note)
    return commands.CreateItem(caller=who, source=source, request_id=request.request_id or None)


def update_item(request: item_service_pb2.UpdateItemRequest, who: Caller) -> commands.UpdateItem:
    item = request.item
    mask = tuple(request.update_mask.paths)
    if not mask:
        # AIP-134: without a mask, update every editable field that is set.
        populated = {
            "title": bool(item.title),
            "summary": bool(item.summary),
            "tags": bool(item.tags),
        }
        mask = tuple(name for name in commands.EDITABLE_FIELDS if populated[name])
    return commands.UpdateItem(
        caller=who,
        item_id=item_id(item.item_id),
        mask=mask,
        title=item.title,
        summary=item.summary,
        tags=tuple(item.tags),
    )


def list_items(request: item_service_pb2.ListItemsRequest, who: Caller) -> commands.ListItems:
    return commands.ListItems(
        caller=who,
        collection=_COLLECTIONS.get(request.collection, "ALL"),
        tag=request.tag,
        query=request.query,
        page_size=request.page_size,
        page_token=request.page_token,
    )


def create_tag(request: tag_service_pb2.CreateTagRequest, who: Caller) -> commands.CreateTag:
    return commands.CreateTag(caller=who, name=request.name, request_id=request.request_id or None)


def list_tags(request: tag_service_pb2.ListTagsRequest, who: Caller) -> commands.ListTags:
    return commands.ListTags(caller=who, page_size=request.page_size, page_token=request.page_token)
