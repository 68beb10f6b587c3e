"""Keyset pagination on (created_at, id), the stable order of every list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, literal, tuple_

from identity.app.ports import ListQuery, Page

T = TypeVar("T")


def keyset(stmt: Select[Any], table: Any, query: ListQuery, *, newest_first: bool) -> Select[Any]:
    key = tuple_(table.c.created_at, table.c.id)
    if query.after is not None:
        # Typed literals: ids are uuid columns, and a varchar would not compare with them.
        after = tuple_(
            literal(datetime.fromisoformat(query.after[0]), table.c.created_at.type),
            literal(query.after[1], table.c.id.type),
        )
        bound: ColumnElement[bool] = key < after if newest_first else key > after
        stmt = stmt.where(bound)
    order = (
        (table.c.created_at.desc(), table.c.id.desc())
        if newest_first
        else (table.c.created_at, table.c.id)
    )
    # One extra row tells whether another page exists.
    return stmt.order_by(*order).limit(query.limit + 1)


def page(
    items: list[T], query: ListQuery, cursor_of: Callable[[T], tuple[datetime, str]]
) -> Page[T]:
    if len(items) <= query.limit:
        return Page(items)
    kept = items[: query.limit]
    created_at, last_id = cursor_of(kept[-1])
    return Page(kept, (created_at.isoformat(), last_id))
