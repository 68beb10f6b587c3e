"""The Item aggregate and its state machine."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from items.domain import events
from items.domain.errors import InvalidSource, InvalidStateTransition, ItemNotEditable
from items.domain.events import DomainEvent
from items.domain.tags import normalize_tags

MAX_TITLE_LENGTH = 300
MAX_SUMMARY_LENGTH = 4000


class ItemState(enum.Enum):
    ENRICHING = "ENRICHING"
    READY_TO_CONFIRM = "READY_TO_CONFIRM"
    CONFIRMED = "CONFIRMED"
    DISCARDED = "DISCARDED"
    FAILED = "FAILED"


# Every allowed move; anything else is INVALID_STATE_TRANSITION.
TRANSITIONS: dict[ItemState, frozenset[ItemState]] = {
    ItemState.ENRICHING: frozenset(
        {ItemState.READY_TO_CONFIRM, ItemState.FAILED, ItemState.DISCARDED}
    ),
    ItemState.READY_TO_CONFIRM: frozenset({ItemState.CONFIRMED, ItemState.DISCARDED}),
    ItemState.FAILED: frozenset({ItemState.ENRICHING, ItemState.DISCARDED}),
    ItemState.CONFIRMED: frozenset(),
    ItemState.DISCARDED: frozenset(),
}

# States whose title, summary and tags a person may edit: enrichment has finished and the
# worker will not overwrite the edit.
EDITABLE_STATES = frozenset({ItemState.READY_TO_CONFIRM, ItemState.CONFIRMED})


@dataclass(frozen=True)
class Source:
    """What was saved: exactly one of a URL or a note."""

    url: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.note is None):
            raise InvalidSource("an item saves exactly one of a url or a note")
        if self.url is not None and not self.url.lower().startswith(("http://", "https://")):
            raise InvalidSource("url must be an absolute http(s) URL", url=self.url)
        if self.note is not None and not self.note.strip():
            raise InvalidSource("note must not be blank")

    @property
    def text(self) -> str:
        return self.url if self.url is not None else (self.note or "")


@dataclass(frozen=True)
class Enrichment:
    """What a provider found out about an item."""

    title: str
    summary: str
    tags: tuple[str, ...]


@dataclass
class Item:
    id: UUID
    org_id: str
    source: Source
    state: ItemState
    created_by: str
    create_time: datetime
    update_time: datetime
    title: str = ""
    summary: str = ""
    tags: tuple[str, ...] = ()
    enrichment_attempts: int = 0
    failure_reason: str = ""
    confirm_time: datetime | None = None
    request_id: str | None = None
    request_fingerprint: str | None = None
    """The fingerprint of the create that carried ``request_id``: a retry of it returns the
    item, another payload under the same id is refused (keel_runtime.idempotency)."""
    events: list[DomainEvent] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def create(
        cls,
        *,
        item_id: UUID,
        org_id: str,
        source: Source,
        created_by: str,
        now: datetime,
        request_id: str | None = None,
        request_fingerprint: str | None = None,
    ) -> Item:
        item = cls(
            id=item_id,
            org_id=org_id,
            source=source,
            state=ItemState.ENRICHING,
            created_by=created_by,
            create_time=now,
            update_time=now,
            request_id=request_id,
            request_fingerprint=request_fingerprint,
        )
        item.events.append(events.ItemCreated(item_id, org_id, source.url, source.note, created_by))
        return item

    def _move(self, target: ItemState, now: datetime) -> None:
        if target not in TRANSITIONS[self.state]:
            raise InvalidStateTransition(
                f"item {self.id} cannot go from {self.state.value} to {target.value}",
                item_id=str(self.id),
                state=self.state.value,
                target_state=target.value,
            )
        self.state = target
        self.update_time = now

    def enrich(self, enrichment: Enrichment, *, attempts: int, now: datetime) -> None:
        self._move(ItemState.READY_TO_CONFIRM, now)
        self.title = enrichment.title[:MAX_TITLE_LENGTH]
        self.summary = enrichment.summary[:MAX_SUMMARY_LENGTH]
        self.tags = normalize_tags(enrichment.tags)
        self.enrichment_attempts = attempts
        self.failure_reason = ""
        self.events.append(
            events.ItemEnriched(self.id, self.org_id, self.title, self.summary, self.tags, attempts)
        )

    def fail_enrichment(self, reason: str, *, attempts: int, now: datetime) -> None:
        self._move(ItemState.FAILED, now)
        self.enrichment_attempts = attempts
        self.failure_reason = reason
        self.events.append(events.EnrichmentFailed(self.id, self.org_id, reason, attempts))

    def confirm(self, *, actor: str, now: datetime) -> None:
        self._move(ItemState.CONFIRMED, now)
        self.confirm_time = now
        self.events.append(events.ItemConfirmed(self.id, self.org_id, actor, self.tags, now))

    def discard(self, *, actor: str, now: datetime) -> None:
        self._move(ItemState.DISCARDED, now)
        self.events.append(events.ItemDiscarded(self.id, self.org_id, actor))

    def retry_enrichment(self, *, actor: str, now: datetime) -> None:
        self._move(ItemState.ENRICHING, now)
        self.enrichment_attempts = 0
        self.failure_reason = ""
        self.events.append(events.EnrichmentRequested(self.id, self.org_id, actor))

    def edit(
        self,
        *,
        now: datetime,
        title: str | None = None,
        summary: str | None = None,
        tags: tuple[str, ...] | None = None,
    ) -> None:
        """Change the given fields (None leaves a field as it is)."""
        if self.state not in EDITABLE_STATES:
            raise ItemNotEditable(
                f"item {self.id} is {self.state.value}; only READY_TO_CONFIRM and "
                "CONFIRMED items can be edited",
                item_id=str(self.id),
                state=self.state.value,
            )
        if title is not None:
            self.title = title.strip()[:MAX_TITLE_LENGTH]
        if summary is not None:
            self.summary = summary.strip()[:MAX_SUMMARY_LENGTH]
        if tags is not None:
            self.tags = normalize_tags(tags)
        self.update_time = now

    def pull_events(self) -> list[DomainEvent]:
        pulled, self.events = self.events, []
        return pulled


@dataclass(frozen=True)
class Tag:
    id: UUID
    org_id: str
    name: str
    create_time: datetime
    item_count: int = 0
    # The request id it was created with, if any, and the fingerprint of that request:
    # a retry of the create returns the tag, another payload under the same id is refused.
    request_id: str | None = None
    request_fingerprint: str | None = None
