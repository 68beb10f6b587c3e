"""The enrichment command: success, retries, the last attempt, stale deliveries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from items.app import commands
from items.app.enrichment import EnrichItem
from items.app.items import ItemHandlers
from items.domain import events
from items.domain.errors import EnrichmentError
from items.domain.model import ItemState, Source
from keel_runtime.caller import Caller


@pytest.fixture
async def item_id(fake_state: Any, clock: Any, ids: Callable[[], UUID], member: Caller) -> UUID:
    handlers = ItemHandlers(fake_state.uow, clock=clock, new_id=ids)
    item = await handlers.create_item(
        commands.CreateItem(member, Source(url="https://a.example/x"))
    )
    fake_state.published.clear()
    return item.id


async def deliver(enrich: EnrichItem, fake_state: Any, item_id: UUID) -> None:
    # What the consumer does per delivery: one transaction, committed only if no error.
    async with fake_state.uow() as uow:
        await enrich(uow, "org-a", item_id)


async def test_success_makes_item_ready(
    fake_state: Any, attempt_counter: Any, make_provider: Any, clock: Any, item_id: UUID
) -> None:
    enrich = EnrichItem(make_provider(), attempt_counter, max_attempts=3, clock=clock)
    await deliver(enrich, fake_state, item_id)
    item = fake_state.items[item_id]
    assert (item.state, item.title, item.tags, item.enrichment_attempts) == (
        ItemState.READY_TO_CONFIRM,
        "A title",
        ("alpha", "beta"),
        1,
    )
    assert fake_state.published == [
        events.ItemEnriched(item_id, "org-a", "A title", "A summary", ("alpha", "beta"), 1)
    ]


async def test_failed_attempts_retry_then_succeed(
    fake_state: Any, attempt_counter: Any, make_provider: Any, item_id: UUID
) -> None:
    provider = make_provider(failures=2)
    enrich = EnrichItem(provider, attempt_counter, max_attempts=3)
    for _ in range(2):
        with pytest.raises(EnrichmentError):
            await deliver(enrich, fake_state, item_id)
        assert fake_state.items[item_id].state is ItemState.ENRICHING
        assert fake_state.published == []
    await deliver(enrich, fake_state, item_id)
    item = fake_state.items[item_id]
    assert (item.state, item.enrichment_attempts) == (ItemState.READY_TO_CONFIRM, 3)


async def test_last_attempt_fails_the_item(
    fake_state: Any, attempt_counter: Any, make_provider: Any, item_id: UUID
) -> None:
    enrich = EnrichItem(make_provider(failures=99), attempt_counter, max_attempts=2)
    with pytest.raises(EnrichmentError):
        await deliver(enrich, fake_state, item_id)
    await deliver(enrich, fake_state, item_id)  # the last attempt returns normally: acked
    item = fake_state.items[item_id]
    assert (item.state, item.enrichment_attempts) == (ItemState.FAILED, 2)
    assert item.failure_reason == "provider down (call 2)"
    assert fake_state.published == [
        events.EnrichmentFailed(item_id, "org-a", "provider down (call 2)", 2)
    ]


async def test_provider_timeout_counts_as_failure(
    fake_state: Any, attempt_counter: Any, item_id: UUID
) -> None:
    class Slow:
        name = "slow"

        async def enrich(self, source: Source) -> Any:
            import asyncio

            await asyncio.Event().wait()

    enrich = EnrichItem(Slow(), attempt_counter, max_attempts=1, timeout_s=0.01)
    await deliver(enrich, fake_state, item_id)
    assert fake_state.items[item_id].failure_reason == "enrichment provider timed out"


@pytest.mark.parametrize(
    "state",
    [ItemState.READY_TO_CONFIRM, ItemState.DISCARDED, ItemState.CONFIRMED, ItemState.FAILED],
)
async def test_delivery_for_item_no_longer_enriching_does_nothing(
    fake_state: Any, attempt_counter: Any, make_provider: Any, item_id: UUID, state: ItemState
) -> None:
    fake_state.items[item_id].state = state
    provider = make_provider()
    await deliver(EnrichItem(provider, attempt_counter, max_attempts=3), fake_state, item_id)
    assert provider.calls == 0
    assert fake_state.items[item_id].state is state
    assert fake_state.published == []


async def test_second_delivery_enriches_once(
    fake_state: Any, attempt_counter: Any, make_provider: Any, item_id: UUID
) -> None:
    provider = make_provider()
    enrich = EnrichItem(provider, attempt_counter, max_attempts=3)
    await deliver(enrich, fake_state, item_id)
    await deliver(enrich, fake_state, item_id)
    assert provider.calls == 1
    assert len(fake_state.published) == 1


async def test_unknown_item_is_ignored(
    fake_state: Any, attempt_counter: Any, make_provider: Any
) -> None:
    await deliver(
        EnrichItem(make_provider(), attempt_counter, max_attempts=3), fake_state, UUID(int=5)
    )
    assert fake_state.published == []


def test_max_attempts_must_be_positive(attempt_counter: Any, make_provider: Any) -> None:
    with pytest.raises(ValueError):
        EnrichItem(make_provider(), attempt_counter, max_attempts=0)
