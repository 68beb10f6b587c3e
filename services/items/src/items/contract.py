"""Domain model <-> keel.items.v1 resource messages (shared by transport and event codec)."""

from __future__ import annotations

from keel.items.v1 import item_pb2, tag_pb2

from items.domain.model import Item, Tag
from keel_runtime.timestamps import timestamp


def item_to_proto(item: Item) -> item_pb2.Item:
    message = item_pb2.Item(
        item_id=str(item.id),
        organization_id=item.org_id,
        state=item_pb2.ItemState.Value(f"ITEM_STATE_{item.state.value}"),
        title=item.title,
        summary=item.summary,
        tags=list(item.tags),
        enrichment_attempts=item.enrichment_attempts,
        failure_reason=item.failure_reason,
        created_by=item.created_by,
        create_time=timestamp(item.create_time),
        update_time=timestamp(item.update_time),
    )
    if item.source.url is not None:
        message.url = item.source.url
    else:
        message.note = item.source.note or ""
    if item.confirm_time is not None:
        message.confirm_time.CopyFrom(timestamp(item.confirm_time))
    return message


def tag_to_proto(tag: Tag) -> tag_pb2.Tag:
    return tag_pb2.Tag(
        tag_id=str(tag.id),
        name=tag.name,
        item_count=tag.item_count,
        create_time=timestamp(tag.create_time),
    )
