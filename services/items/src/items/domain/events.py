"""Domain events recorded by items; the outbox carries them out after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class ItemCreated:
    item_id: UUID
    org_id: str
    url: str | None
    note: str | None
    created_by: str


@dataclass(frozen=True)
class EnrichmentRequested:
    item_id: UUID
    org_id: str
    requested_by: str


@dataclass(frozen=True)
class ItemEnriched:
    item_id: UUID
    org_id: str
    title: str
    summary: str
    tags: tuple[str, ...]
    attempts: int


@dataclass(frozen=True)
class EnrichmentFailed:
    item_id: UUID
    org_id: str
    reason: str
    attempts: int


@dataclass(frozen=True)
class ItemConfirmed:
    item_id: UUID
    org_id: str
    confirmed_by: str
    tags: tuple[str, ...]
    confirm_time: datetime


@dataclass(frozen=True)
class ItemDiscarded:
    item_id: UUID
    org_id: str
    discarded_by: str


DomainEvent = (
    ItemCreated
    | EnrichmentRequested
    | ItemEnriched
    | EnrichmentFailed
    | ItemConfirmed
    | ItemDiscarded
)
