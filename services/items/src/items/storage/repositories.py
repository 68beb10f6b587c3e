"""Item and tag repositories on SQLAlchemy Core, bound to one connection (one transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Text, and_, cast, delete, func, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, array, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from items.app.ports import ItemQuery
from items.domain.model import Item, ItemState, Source, Tag
from items.storage.tables import items, tags
from keel_runtime.ids import uuid7

_ITEM_COLUMNS = [c for c in items.c if c.name != "search"]


def _text_array(*values: str) -> Any:
    # Bound strings default to varchar; text[] @> varchar[] has no operator.
    return cast(array(list(values)), ARRAY(Text))


def _item_from_row(row: Any) -> Item:
    return Item(
        id=row.id,
        org_id=row.org_id,
        source=Source(url=row.url, note=row.note),
        state=ItemState(row.state),
        created_by=row.created_by,
        create_time=row.create_time,
        update_time=row.update_time,
        title=row.title,
        summary=row.summary,
        tags=tuple(row.tags),
        enrichment_attempts=row.enrichment_attempts,
        failure_reason=row.failure_reason,
        confirm_time=row.confirm_time,
        request_id=row.request_id,
        request_fingerprint=row.request_fingerprint,
    )


def _mutable_values(item: Item) -> dict[str, Any]:
    return {
        "state": item.state.value,
        "title": item.title,
        "summary": item.summary,
        "tags": list(item.tags),
        "enrichment_attempts": item.enrichment_attempts,
        "failure_reason": item.failure_reason,
        "update_time": item.update_time,
        "confirm_time": item.confirm_time,
    }


class SqlItemRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, item: Item) -> bool:
        statement = (
            insert(items)
            .values(
                id=item.id,
                org_id=item.org_id,
                url=item.source.url,
                note=item.source.note,
                created_by=item.created_by,
                request_id=item.request_id,
                request_fingerprint=item.request_fingerprint if item.request_id else None,
                create_time=item.create_time,
                **_mutable_values(item),
            )
            # A concurrent insert with the same request id waits for the other transaction
            # and then inserts nothing, so the caller can read the winner's item.
            .on_conflict_do_nothing(index_elements=["org_id", "request_id"])
            .returning(items.c.id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def get(self, org_id: str, item_id: UUID, *, for_update: bool = False) -> Item | None:
        statement = select(*_ITEM_COLUMNS).where(items.c.org_id == org_id, items.c.id == item_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).first()
        return _item_from_row(row) if row is not None else None

    async def get_by_request_id(self, org_id: str, request_id: str) -> Item | None:
        statement = select(*_ITEM_COLUMNS).where(
            items.c.org_id == org_id, items.c.request_id == request_id
        )
        row = (await self._conn.execute(statement)).first()
        if row is None:
            return None
        return _item_from_row(row)

    async def save(self, item: Item) -> None:
        await self._conn.execute(
            update(items)
            .where(items.c.org_id == item.org_id, items.c.id == item.id)
            .values(**_mutable_values(item))
        )

    async def list(self, query: ItemQuery) -> Sequence[Item]:
        conditions = [
            items.c.org_id == query.org_id,
            items.c.state.in_(sorted(state.value for state in query.states)),
        ]
        if query.tag:
            conditions.append(items.c.tags.contains(_text_array(query.tag)))
        if query.text:
            conditions.append(
                items.c.search.op("@@")(func.websearch_to_tsquery("english", query.text))
            )
        if query.after is not None:
            conditions.append(
                tuple_(items.c.create_time, items.c.id)
                < tuple_(literal(query.after.create_time), literal(query.after.item_id))
            )
        statement = (
            select(*_ITEM_COLUMNS)
            .where(and_(*conditions))
            .order_by(items.c.create_time.desc(), items.c.id.desc())
            .limit(query.limit)
        )
        return [_item_from_row(row) for row in await self._conn.execute(statement)]

    async def replace_tag(self, org_id: str, old: str, new: str) -> None:
        # Keep each item's tag order, and one copy if an item carried both names.
        await self._conn.execute(
            text(
                "UPDATE items SET tags = ARRAY("
                " SELECT name FROM unnest(array_replace(tags, :old, :new))"
                " WITH ORDINALITY AS t(name, position)"
                " GROUP BY name ORDER BY min(position))"
                " WHERE org_id = :org_id AND tags @> ARRAY[:old]::text[]"
            ),
            {"org_id": org_id, "old": old, "new": new},
        )

    async def remove_tag(self, org_id: str, name: str) -> None:
        await self._conn.execute(
            update(items)
            .where(items.c.org_id == org_id, items.c.tags.contains(_text_array(name)))
            .values(tags=func.array_remove(items.c.tags, name))
        )


class SqlTagRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def ensure(self, org_id: str, names: Sequence[str], now: datetime) -> None:
        if not names:
            return
        rows = [
            {"id": uuid7(), "org_id": org_id, "name": name, "create_time": now}
            for name in sorted(set(names))  # a stable order avoids lock-order deadlocks
        ]
        await self._conn.execute(
            insert(tags).on_conflict_do_nothing(index_elements=["org_id", "name"]), rows
        )

    async def add(self, tag: Tag) -> bool:
        statement = (
            insert(tags)
            .values(
                id=tag.id,
                org_id=tag.org_id,
                name=tag.name,
                create_time=tag.create_time,
                request_id=tag.request_id,
                request_fingerprint=tag.request_fingerprint,
            )
            # Either unique key (name, request id): a concurrent insert waits for the other
            # transaction, then inserts nothing, so the caller can read the winner's tag.
            .on_conflict_do_nothing()
            .returning(tags.c.id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def get(self, org_id: str, tag_id: UUID, *, for_update: bool = False) -> Tag | None:
        statement = _tag_select().where(tags.c.org_id == org_id, tags.c.id == tag_id)
        if for_update:
            statement = statement.with_for_update(of=tags)
        row = (await self._conn.execute(statement)).first()
        return _tag_from_row(row) if row is not None else None

    async def get_by_name(self, org_id: str, name: str) -> Tag | None:
        statement = _tag_select().where(tags.c.org_id == org_id, tags.c.name == name)
        row = (await self._conn.execute(statement)).first()
        return _tag_from_row(row) if row is not None else None

    async def get_by_request_id(self, org_id: str, request_id: str) -> Tag | None:
        statement = _tag_select().where(tags.c.org_id == org_id, tags.c.request_id == request_id)
        row = (await self._conn.execute(statement)).first()
        return _tag_from_row(row) if row is not None else None

    async def rename(self, tag: Tag, new_name: str) -> bool:
        try:
            # A savepoint, so a name taken meanwhile fails this statement, not the transaction.
            async with self._conn.begin_nested():
                await self._conn.execute(
                    update(tags).where(tags.c.id == tag.id).values(name=new_name)
                )
        except IntegrityError:
            return False
        return True

    async def delete(self, tag: Tag) -> None:
        await self._conn.execute(delete(tags).where(tags.c.id == tag.id))

    async def list(self, org_id: str, *, after_name: str | None, limit: int) -> Sequence[Tag]:
        statement = _tag_select().where(tags.c.org_id == org_id)
        if after_name is not None:
            statement = statement.where(tags.c.name > after_name)
        statement = statement.order_by(tags.c.name).limit(limit)
        return [_tag_from_row(row) for row in await self._conn.execute(statement)]


def _tag_select() -> Any:
    library_count = (
        select(func.count())
        .where(
            items.c.org_id == tags.c.org_id,
            items.c.state == ItemState.CONFIRMED.value,
            items.c.tags.contains(array([tags.c.name])),
        )
        .scalar_subquery()
    )
    return select(tags, library_count.label("item_count"))


def _tag_from_row(row: Any) -> Tag:
    return Tag(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        create_time=row.create_time,
        item_count=row.item_count,
        request_id=row.request_id,
        request_fingerprint=row.request_fingerprint,
    )
