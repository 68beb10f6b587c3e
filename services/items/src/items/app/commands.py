"""Commands and queries the handlers accept."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from items.app.actor import Actor
from items.domain.model import Source

EDITABLE_FIELDS = ("title", "summary", "tags")


@dataclass(frozen=True)
class CreateItem:
    actor: Actor
    source: Source
    request_id: str | None = None


@dataclass(frozen=True)
class UpdateItem:
    actor: Actor
    item_id: UUID
    # Field names to change (from the update mask); values for the others are ignored.
    mask: tuple[str, ...]
    title: str = ""
    summary: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangeState:
    """Confirm, discard or retry one item."""

    actor: Actor
    item_id: UUID


@dataclass(frozen=True)
class ListItems:
    actor: Actor
    collection: str = "ALL"  # ALL (not discarded) | PENDING | LIBRARY | DISCARDED
    tag: str = ""
    query: str = ""
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class CreateTag:
    actor: Actor
    name: str
    request_id: str | None = None


@dataclass(frozen=True)
class RenameTag:
    actor: Actor
    tag_id: UUID
    new_name: str


@dataclass(frozen=True)
class DeleteTag:
    actor: Actor
    tag_id: UUID


@dataclass(frozen=True)
class ListTags:
    actor: Actor
    page_size: int = 0
    page_token: str = ""
