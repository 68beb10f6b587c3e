"""Ports the handlers depend on; storage and enrichment adapters implement them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from items.domain.events import DomainEvent
from items.domain.model import Enrichment, Item, ItemState, Source, Tag
from keel_runtime.ports import TransactionPort


@dataclass(frozen=True)
class ItemCursor:
    """Position after the last item of a page (items are listed newest first)."""

    create_time: datetime
    item_id: UUID


@dataclass(frozen=True)
class ItemQuery:
    org_id: str
    states: frozenset[ItemState]
    limit: int
    tag: str | None = None
    text: str | None = None
    after: ItemCursor | None = None


class ItemRepository(Protocol):
    async def add(self, item: Item) -> bool:
        """Insert; False (and no write) if the org already used the item's request id."""

    async def get(self, org_id: str, item_id: UUID, *, for_update: bool = False) -> Item | None:
        """The org's item, optionally locked until the end of the transaction."""

    async def get_by_request_id(self, org_id: str, request_id: str) -> Item | None: ...

    async def save(self, item: Item) -> None:
        """Write the item's mutable fields back."""

    async def list(self, query: ItemQuery) -> Sequence[Item]: ...

    async def replace_tag(self, org_id: str, old: str, new: str) -> None:
        """Rename a tag on every item of the org that carries it."""

    async def remove_tag(self, org_id: str, name: str) -> None: ...


class TagRepository(Protocol):
    async def ensure(self, org_id: str, names: Sequence[str], now: datetime) -> None:
        """Create the tags that do not exist yet (concurrent callers are fine)."""

    async def add(self, tag: Tag) -> bool:
        """Insert; False if the org already has a tag with that name or request id."""

    async def get(self, org_id: str, tag_id: UUID, *, for_update: bool = False) -> Tag | None: ...

    async def get_by_name(self, org_id: str, name: str) -> Tag | None: ...

    async def get_by_request_id(self, org_id: str, request_id: str) -> Tag | None: ...

    async def rename(self, tag: Tag, new_name: str) -> bool:
        """False if the new name is taken."""

    async def delete(self, tag: Tag) -> None: ...

    async def list(self, org_id: str, *, after_name: str | None, limit: int) -> Sequence[Tag]:
        """Tags by name with their library item counts."""


class UnitOfWork(TransactionPort[DomainEvent], Protocol):
    """One transaction: repositories, plus events that leave through the outbox on commit."""

    @property
    def items(self) -> ItemRepository: ...

    @property
    def tags(self) -> TagRepository: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class EnrichmentProvider(Protocol):
    """Derives title, summary and tags from what was saved; raises EnrichmentError on failure."""

    name: str

    async def enrich(self, source: Source) -> Enrichment: ...


class AttemptCounter(Protocol):
    """Counts enrichment attempts outside the worker's transaction, so a failed attempt
    (whose transaction rolls back for redelivery) still counts."""

    async def next_attempt(self, org_id: str, item_id: UUID) -> int:
        """Increment and return the item's attempt number; 0 if it is no longer ENRICHING."""
