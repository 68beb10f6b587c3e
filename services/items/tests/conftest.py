"""Fixtures shared by the items test suites: in-memory fakes of the application ports."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self
from uuid import UUID

import pytest

from items.app.ports import ItemQuery
from items.domain.errors import EnrichmentError
from items.domain.events import DomainEvent
from items.domain.model import Enrichment, Item, ItemState, Source, Tag
from items.storage.schema import SCHEMA
from keel_devstack.pytest_plugin import MigratedTemplates
from keel_runtime.caller import Caller


class FakeItemRepository:
    def __init__(self, store: dict[UUID, Item]) -> None:
        self._store = store

    async def add(self, item: Item) -> bool:
        if item.request_id is not None and any(
            i.org_id == item.org_id and i.request_id == item.request_id
            for i in self._store.values()
        ):
            return False
        self._store[item.id] = dataclasses.replace(item, events=[])
        return True

    async def get(self, org_id: str, item_id: UUID, *, for_update: bool = False) -> Item | None:
        item = self._store.get(item_id)
        if item is None or item.org_id != org_id:
            return None
        return dataclasses.replace(item, events=[])

    async def get_by_request_id(self, org_id: str, request_id: str) -> Item | None:
        for item in self._store.values():
            if item.org_id == org_id and item.request_id == request_id:
                return dataclasses.replace(item, events=[])
        return None

    async def save(self, item: Item) -> None:
        self._store[item.id] = dataclasses.replace(item, events=[])

    async def list(self, query: ItemQuery) -> Sequence[Item]:
        found = [
            i
            for i in self._store.values()
            if i.org_id == query.org_id
            and i.state in query.states
            and (query.tag is None or query.tag in i.tags)
            and (
                query.text is None
                or query.text.lower() in f"{i.title} {i.summary} {i.source.text}".lower()
            )
            and (
                query.after is None
                or (i.create_time, i.id) < (query.after.create_time, query.after.item_id)
            )
        ]
        found.sort(key=lambda i: (i.create_time, i.id), reverse=True)
        return found[: query.limit]

    async def replace_tag(self, org_id: str, old: str, new: str) -> None:
        for item in self._store.values():
            if item.org_id == org_id and old in item.tags:
                item.tags = tuple(dict.fromkeys(new if t == old else t for t in item.tags))

    async def remove_tag(self, org_id: str, name: str) -> None:
        for item in self._store.values():
            if item.org_id == org_id:
                item.tags = tuple(t for t in item.tags if t != name)


class FakeTagRepository:
    def __init__(self, store: dict[UUID, Tag], items: dict[UUID, Item]) -> None:
        self._store = store
        self._items = items

    def _counted(self, tag: Tag) -> Tag:
        count = sum(
            1
            for i in self._items.values()
            if i.org_id == tag.org_id and i.state is ItemState.CONFIRMED and tag.name in i.tags
        )
        return dataclasses.replace(tag, item_count=count)

    def _named(self, org_id: str, name: str) -> Tag | None:
        return next(
            (t for t in self._store.values() if t.org_id == org_id and t.name == name), None
        )

    async def ensure(self, org_id: str, names: Sequence[str], now: datetime) -> None:
        for name in names:
            if self._named(org_id, name) is None:
                tag_id = UUID(int=len(self._store) + 1)
                self._store[tag_id] = Tag(tag_id, org_id, name, now)

    def _requested(self, org_id: str, request_id: str) -> Tag | None:
        return next(
            (t for t in self._store.values() if (t.org_id, t.request_id) == (org_id, request_id)),
            None,
        )

    async def add(self, tag: Tag) -> bool:
        if self._named(tag.org_id, tag.name) is not None:
            return False
        if tag.request_id is not None and self._requested(tag.org_id, tag.request_id):
            return False
        self._store[tag.id] = tag
        return True

    async def get(self, org_id: str, tag_id: UUID, *, for_update: bool = False) -> Tag | None:
        tag = self._store.get(tag_id)
        return self._counted(tag) if tag is not None and tag.org_id == org_id else None

    async def get_by_name(self, org_id: str, name: str) -> Tag | None:
        tag = self._named(org_id, name)
        return self._counted(tag) if tag is not None else None

    async def get_by_request_id(self, org_id: str, request_id: str) -> Tag | None:
        tag = self._requested(org_id, request_id)
        return self._counted(tag) if tag is not None else None

    async def rename(self, tag: Tag, new_name: str) -> bool:
        if self._named(tag.org_id, new_name) is not None:
            return False
        self._store[tag.id] = dataclasses.replace(tag, name=new_name)
        return True

    async def delete(self, tag: Tag) -> None:
        del self._store[tag.id]

    async def list(self, org_id: str, *, after_name: str | None, limit: int) -> Sequence[Tag]:
        tags = sorted((t for t in self._store.values() if t.org_id == org_id), key=lambda t: t.name)
        if after_name is not None:
            tags = [t for t in tags if t.name > after_name]
        return [self._counted(t) for t in tags[:limit]]


class FakeUnitOfWork:
    """Commits copy the working state into the shared store; anything else is discarded."""

    def __init__(self, state: FakeState) -> None:
        self._state = state
        self.committed = False
        self._events: list[DomainEvent] = []

    async def __aenter__(self) -> Self:
        self._items = {k: dataclasses.replace(v) for k, v in self._state.items.items()}
        self._tags = dict(self._state.tags)
        self.items = FakeItemRepository(self._items)
        self.tags = FakeTagRepository(self._tags, self._items)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._events.clear()

    def record(self, *events: DomainEvent) -> None:
        self._events.extend(events)

    async def commit(self) -> None:
        self._state.items = self._items
        self._state.tags = self._tags
        self._state.published.extend(self._events)
        self._events = []
        self.committed = True
        self._state.commits += 1


@dataclasses.dataclass
class FakeState:
    items: dict[UUID, Item] = dataclasses.field(default_factory=dict)
    tags: dict[UUID, Tag] = dataclasses.field(default_factory=dict)
    published: list[DomainEvent] = dataclasses.field(default_factory=list)
    commits: int = 0

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)


class FakeProvider:
    """Fails the first ``failures`` calls, then returns ``result``."""

    name = "fake"

    def __init__(self, failures: int = 0, result: Enrichment | None = None) -> None:
        self.failures = failures
        self.calls = 0
        self.result = result or Enrichment("A title", "A summary", ("Alpha", "beta"))

    async def enrich(self, source: Source) -> Enrichment:
        self.calls += 1
        if self.calls <= self.failures:
            raise EnrichmentError(f"provider down (call {self.calls})")
        return self.result


class FakeAttemptCounter:
    """Counts like the real one: outside any transaction, so rolled-back attempts count."""

    def __init__(self, state: FakeState) -> None:
        self._state = state

    async def next_attempt(self, org_id: str, item_id: UUID) -> int:
        item = self._state.items.get(item_id)
        if item is None or item.org_id != org_id or item.state is not ItemState.ENRICHING:
            return 0
        item.enrichment_attempts += 1
        return item.enrichment_attempts


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def fake_state() -> FakeState:
    return FakeState()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ids() -> Callable[[], UUID]:
    counter = iter(range(1, 1_000_000))
    return lambda: UUID(int=next(counter) + (1 << 64))


@pytest.fixture
def make_provider() -> type[FakeProvider]:
    return FakeProvider


@pytest.fixture
def attempt_counter(fake_state: FakeState) -> FakeAttemptCounter:
    return FakeAttemptCounter(fake_state)


@pytest.fixture
def member() -> Caller:
    return Caller(subject="user-1", org_id="org-a", roles=frozenset({"MEMBER"}))


@pytest.fixture
def reader() -> Caller:
    return Caller(subject="user-2", org_id="org-a", roles=frozenset({"READ_ONLY"}))


@pytest.fixture
def outsider() -> Caller:
    return Caller(subject="user-9", org_id="org-b", roles=frozenset({"OWNER"}))


@pytest.fixture
def database_template(migrated_templates: MigratedTemplates) -> str:
    """Each test's database is a copy of the items schema, migrated once per session."""
    return migrated_templates(SCHEMA)
