"""Item command and query handlers: one transaction per command."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from items.app import commands
from items.app.access import require_read, require_write
from items.app.ports import ItemCursor, ItemQuery, UnitOfWork, UnitOfWorkFactory
from items.domain.errors import (
    InvalidUpdateMask,
    ItemNotFound,
    RequestIdReused,
)
from items.domain.model import Item, ItemState
from items.domain.tags import normalize_tag
from keel_runtime import paging
from keel_runtime.caller import Caller
from keel_runtime.idempotency import create_once, fingerprint
from keel_runtime.ids import uuid7

COLLECTIONS: dict[str, frozenset[ItemState]] = {
    "ALL": frozenset(ItemState) - {ItemState.DISCARDED},
    "PENDING": frozenset({ItemState.ENRICHING, ItemState.READY_TO_CONFIRM, ItemState.FAILED}),
    "LIBRARY": frozenset({ItemState.CONFIRMED}),
    "DISCARDED": frozenset({ItemState.DISCARDED}),
}


# A state change applied to a locked item inside the command's transaction.
_Change = Callable[[UnitOfWork, Item, datetime], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ItemPage:
    items: Sequence[Item]
    next_page_token: str


class ItemHandlers:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        reads: UnitOfWorkFactory | None = None,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], UUID] = uuid7,
    ) -> None:
        self._uow = uow
        # Reads may go through units of work without a transaction of their own (read_only).
        self._reads = reads or uow
        self._clock = clock
        self._new_id = new_id

    async def create_item(self, command: commands.CreateItem) -> Item:
        caller = command.caller
        require_write(caller)
        request_id = command.request_id or None
        source = command.source
        item = Item.create(
            item_id=self._new_id(),
            org_id=caller.org_id,
            source=source,
            created_by=caller.subject,
            now=self._clock(),
            request_id=request_id,
            request_fingerprint=(
                fingerprint({"url": source.url, "note": source.note}) if request_id else None
            ),
        )

        async def insert() -> Item | None:
            async with self._uow() as uow:
                # Refused only when the request id was used before (perhaps by a concurrent
                # call that has just committed).
                if not await uow.items.add(item):
                    return None
                uow.record(*item.pull_events())
                await uow.commit()
                return item

        async def first_use() -> tuple[Item, str] | None:
            async with self._uow() as uow:
                first = await uow.items.get_by_request_id(caller.org_id, request_id or "")
            return None if first is None else (first, first.request_fingerprint or "")

        def reused(first: Item) -> RequestIdReused:
            return RequestIdReused(
                f"request_id {request_id} was already used with a different payload",
                request_id=request_id or "",
                item_id=str(first.id),
            )

        return await create_once(insert, first_use, item.request_fingerprint or "", reused)

    async def get_item(self, caller: Caller, item_id: UUID) -> Item:
        require_read(caller)
        async with self._reads() as uow:
            return await _load(uow, caller.org_id, item_id)

    async def list_items(self, query: commands.ListItems) -> ItemPage:
        caller = query.caller
        require_read(caller)
        tag = normalize_tag(query.tag) if query.tag else None
        text = query.query.strip() or None
        scope = paging.query_digest("ListItems", caller.org_id, query.collection, tag, text)
        key = paging.decode_time_key(query.page_token, scope)
        after = ItemCursor(key[0], UUID(key[1])) if key is not None else None
        size = paging.page_size(query.page_size)
        item_query = ItemQuery(
            org_id=caller.org_id,
            states=COLLECTIONS[query.collection],
            limit=size + 1,  # one extra row tells whether another page exists
            tag=tag,
            text=text,
            after=after,
        )
        async with self._reads() as uow:
            rows = list(await uow.items.list(item_query))
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            last = rows[-1]
            token = paging.encode_time_key(last.create_time, str(last.id), scope)
        return ItemPage(rows, token)

    async def update_item(self, command: commands.UpdateItem) -> Item:
        require_write(command.caller)
        fields = _resolve_mask(command.mask)
        async with self._uow() as uow:
            item = await _load(uow, command.caller.org_id, command.item_id, for_update=True)
            item.edit(
                now=self._clock(),
                title=command.title if "title" in fields else None,
                summary=command.summary if "summary" in fields else None,
                tags=command.tags if "tags" in fields else None,
            )
            if "tags" in fields and item.state is ItemState.CONFIRMED:
                # Library items carry organization tags only.
                await uow.tags.ensure(item.org_id, item.tags, item.update_time)
            await uow.items.save(item)
            await uow.commit()
        return item

    async def confirm_item(self, command: commands.ChangeState) -> Item:
        async def confirm(uow: UnitOfWork, item: Item, now: datetime) -> None:
            item.confirm(actor=command.caller.subject, now=now)
            await uow.tags.ensure(item.org_id, item.tags, now)

        return await self._change(command, confirm)

    async def discard_item(self, command: commands.ChangeState) -> Item:
        async def discard(uow: UnitOfWork, item: Item, now: datetime) -> None:
            item.discard(actor=command.caller.subject, now=now)

        return await self._change(command, discard)

    async def retry_enrichment(self, command: commands.ChangeState) -> Item:
        async def retry(uow: UnitOfWork, item: Item, now: datetime) -> None:
            item.retry_enrichment(actor=command.caller.subject, now=now)

        return await self._change(command, retry)

    async def _change(self, command: commands.ChangeState, change: _Change) -> Item:
        require_write(command.caller)
        async with self._uow() as uow:
            # Locked, so a concurrent confirm and discard cannot both succeed.
            item = await _load(uow, command.caller.org_id, command.item_id, for_update=True)
            await change(uow, item, self._clock())
            await uow.items.save(item)
            uow.record(*item.pull_events())
            await uow.commit()
        return item


async def _load(uow: UnitOfWork, org_id: str, item_id: UUID, *, for_update: bool = False) -> Item:
    item = await uow.items.get(org_id, item_id, for_update=for_update)
    if item is None:
        # Another organization's item is indistinguishable from a missing one.
        raise ItemNotFound(f"item {item_id} not found", item_id=str(item_id))
    return item


def _resolve_mask(mask: Sequence[str]) -> frozenset[str]:
    if not mask:
        raise InvalidUpdateMask("update_mask names no field to update")
    if "*" in mask:
        if len(mask) > 1:
            raise InvalidUpdateMask("'*' cannot be combined with other update_mask paths")
        return frozenset(commands.EDITABLE_FIELDS)
    unknown = sorted(set(mask) - set(commands.EDITABLE_FIELDS))
    if unknown:
        raise InvalidUpdateMask(
            f"update_mask paths {unknown} are not editable; use title, summary or tags",
            paths=",".join(unknown),
        )
    return frozenset(mask)
