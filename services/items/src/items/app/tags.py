"""Tag command and query handlers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from items.app import commands
from items.app.access import require_read, require_write
from items.app.items import utc_now
from items.app.ports import UnitOfWork, UnitOfWorkFactory
from items.domain.errors import RequestIdReused, TagAlreadyExists, TagNotFound
from items.domain.model import Tag
from items.domain.tags import normalize_tag
from keel_runtime import paging
from keel_runtime.idempotency import fingerprint, replay
from keel_runtime.ids import uuid7


@dataclass(frozen=True)
class TagPage:
    tags: Sequence[Tag]
    next_page_token: str


class TagHandlers:
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

    async def list_tags(self, query: commands.ListTags) -> TagPage:
        caller = query.caller
        require_read(caller)
        scope = paging.query_digest("ListTags", caller.org_id)
        cursor = paging.decode(query.page_token, scope, (str,))
        after = cursor[0] if cursor is not None else None
        size = paging.page_size(query.page_size)
        async with self._reads() as uow:
            rows = list(await uow.tags.list(caller.org_id, after_name=after, limit=size + 1))
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            token = paging.encode([rows[-1].name], scope)
        return TagPage(rows, token)

    async def create_tag(self, command: commands.CreateTag) -> Tag:
        caller = command.caller
        require_write(caller)
        name = normalize_tag(command.name)
        request_id = command.request_id or None
        tag = Tag(
            id=self._new_id(),
            org_id=caller.org_id,
            name=name,
            create_time=self._clock(),
            request_id=request_id,
            request_fingerprint=fingerprint({"name": name}) if request_id else None,
        )
        async with self._uow() as uow:
            if await uow.tags.add(tag):
                await uow.commit()
                return tag
            # Refused: the request id was used before (perhaps by a concurrent call that
            # just committed), or the name is taken.
            first = (
                await uow.tags.get_by_request_id(caller.org_id, request_id) if request_id else None
            )
        if first is None:
            raise _taken(name)
        return replay(
            first,
            first.request_fingerprint or "",
            tag.request_fingerprint or "",
            lambda first: RequestIdReused(
                f"request_id {request_id} was already used with a different payload",
                request_id=request_id or "",
                tag_id=str(first.id),
            ),
        )

    async def rename_tag(self, command: commands.RenameTag) -> Tag:
        caller = command.caller
        require_write(caller)
        new_name = normalize_tag(command.new_name)
        async with self._uow() as uow:
            tag = await _load(uow, caller.org_id, command.tag_id)
            if tag.name == new_name:
                return tag
            if not await uow.tags.rename(tag, new_name):
                raise _taken(new_name)
            await uow.items.replace_tag(caller.org_id, tag.name, new_name)
            renamed = await _load(uow, caller.org_id, command.tag_id)
            await uow.commit()
        return renamed

    async def delete_tag(self, command: commands.DeleteTag) -> None:
        caller = command.caller
        require_write(caller)
        async with self._uow() as uow:
            tag = await _load(uow, caller.org_id, command.tag_id)
            await uow.tags.delete(tag)
            await uow.items.remove_tag(caller.org_id, tag.name)
            await uow.commit()


async def _load(uow: UnitOfWork, org_id: str, tag_id: UUID) -> Tag:
    # Locked: a concurrent rename or delete of the same tag waits for this one.
    tag = await uow.tags.get(org_id, tag_id, for_update=True)
    if tag is None:
        raise TagNotFound(f"tag {tag_id} not found", tag_id=str(tag_id))
    return tag


def _taken(name: str) -> TagAlreadyExists:
    return TagAlreadyExists(f"a tag named {name!r} already exists", name=name)
