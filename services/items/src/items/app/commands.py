"""Commands and queries the handlers accept."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from items.domain.model import Source
from keel_runtime.caller import Caller

EDITABLE_FIELDS = ("title", "summary", "tags")


@dataclass(frozen=True)
class CreateItem:
    caller: Caller
    source: Source
    request_id: str | None = None


@dataclass(frozen=True)
class UpdateItem:
    caller: Caller
    item_id: UUID
    # Field names to change (from the update mask); values for the others are ignored.
    mask: tuple[str, ...]
    title: str = ""
    summary: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangeState:
    """Confirm, discard or retry one item."""

    caller: Caller
    item_id: UUID


@dataclass(frozen=True)
class ListItems:
    caller: Caller
    collection: str = "ALL"  # ALL (not discarded) | PENDING | LIBRARY | DISCARDED
    tag: str = ""
    query: str = ""
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class CreateTag:
    caller: Caller
    name: str
    request_id: str | None = None


@dataclass(frozen=True)
class RenameTag:
    caller: Caller
    tag_id: UUID
    new_name: str


@dataclass(frozen=True)
class DeleteTag:
    caller: Caller
    tag_id: UUID


@dataclass(frozen=True)
class ListTags:
    caller: Caller
    page_size: int = 0
    page_token: str = ""
