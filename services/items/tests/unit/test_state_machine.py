"""Every transition of the item state machine, allowed and forbidden."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import pytest

from items.domain import events
from items.domain.errors import InvalidSource, InvalidStateTransition, ItemNotEditable
from items.domain.model import (
    EDITABLE_STATES,
    TRANSITIONS,
    Enrichment,
    Item,
    ItemState,
    Source,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime(2026, 1, 2, tzinfo=UTC)


def item_in(state: ItemState) -> Item:
    item = Item.create(
        item_id=UUID(int=1),
        org_id="org-a",
        source=Source(url="https://example.com/a"),
        created_by="user-1",
        now=NOW,
    )
    item.pull_events()
    item.state = state
    return item


# The one way to reach each target state, and the event it records.
MOVES: dict[ItemState, tuple[Callable[[Item], None], type]] = {
    ItemState.READY_TO_CONFIRM: (
        lambda i: i.enrich(Enrichment("T", "S", ("x",)), attempts=1, now=LATER),
        events.ItemEnriched,
    ),
    ItemState.FAILED: (
        lambda i: i.fail_enrichment("boom", attempts=3, now=LATER),
        events.EnrichmentFailed,
    ),
    ItemState.CONFIRMED: (lambda i: i.confirm(actor="u", now=LATER), events.ItemConfirmed),
    ItemState.DISCARDED: (lambda i: i.discard(actor="u", now=LATER), events.ItemDiscarded),
    ItemState.ENRICHING: (
        lambda i: i.retry_enrichment(actor="u", now=LATER),
        events.EnrichmentRequested,
    ),
}

ALLOWED = [(s, t) for s, t in itertools.product(ItemState, ItemState) if t in TRANSITIONS[s]]
FORBIDDEN = [(s, t) for s, t in itertools.product(ItemState, ItemState) if t not in TRANSITIONS[s]]


def test_the_table_is_the_documented_machine() -> None:
    assert sorted((s.value, t.value) for s, t in ALLOWED) == sorted(
        [
            ("ENRICHING", "READY_TO_CONFIRM"),
            ("ENRICHING", "FAILED"),
            ("ENRICHING", "DISCARDED"),
            ("READY_TO_CONFIRM", "CONFIRMED"),
            ("READY_TO_CONFIRM", "DISCARDED"),
            ("FAILED", "ENRICHING"),
            ("FAILED", "DISCARDED"),
        ]
    )


@pytest.mark.parametrize(("source", "target"), ALLOWED, ids=lambda s: s.value)
def test_allowed_transition_moves_and_records_one_event(
    source: ItemState, target: ItemState
) -> None:
    item = item_in(source)
    move, event_type = MOVES[target]
    move(item)
    assert item.state is target
    assert item.update_time == LATER
    recorded = item.pull_events()
    assert [type(e) for e in recorded] == [event_type]
    assert recorded[0].item_id == item.id and recorded[0].org_id == "org-a"


@pytest.mark.parametrize(("source", "target"), FORBIDDEN, ids=lambda s: s.value)
def test_forbidden_transition_changes_nothing(source: ItemState, target: ItemState) -> None:
    item = item_in(source)
    move, _ = MOVES[target]
    with pytest.raises(InvalidStateTransition) as raised:
        move(item)
    assert raised.value.reason == "INVALID_STATE_TRANSITION"
    assert raised.value.metadata == {
        "item_id": str(item.id),
        "state": source.value,
        "target_state": target.value,
    }
    assert item.state is source
    assert item.update_time == NOW
    assert item.pull_events() == []


def test_create_starts_enriching_with_item_created() -> None:
    item = Item.create(
        item_id=UUID(int=7),
        org_id="org-a",
        source=Source(note="hello"),
        created_by="user-1",
        now=NOW,
        request_id="r-1",
    )
    assert item.state is ItemState.ENRICHING
    assert item.pull_events() == [events.ItemCreated(UUID(int=7), "org-a", None, "hello", "user-1")]


def test_enrich_normalizes_tags_and_clears_failure() -> None:
    item = item_in(ItemState.ENRICHING)
    item.failure_reason = "old"
    item.enrich(
        Enrichment("T", "S", ("Machine Learning", "machine_learning", "AI")), attempts=2, now=LATER
    )
    assert item.tags == ("machine-learning", "ai")
    assert item.failure_reason == ""
    assert item.enrichment_attempts == 2


def test_retry_resets_attempts() -> None:
    item = item_in(ItemState.FAILED)
    item.enrichment_attempts, item.failure_reason = 5, "down"
    item.retry_enrichment(actor="u", now=LATER)
    assert (item.enrichment_attempts, item.failure_reason) == (0, "")


def test_confirm_records_confirm_time_and_tags() -> None:
    item = item_in(ItemState.READY_TO_CONFIRM)
    item.tags = ("a", "b")
    item.confirm(actor="user-1", now=LATER)
    assert item.confirm_time == LATER
    assert item.pull_events() == [
        events.ItemConfirmed(item.id, "org-a", "user-1", ("a", "b"), LATER)
    ]


@pytest.mark.parametrize("state", list(ItemState), ids=lambda s: s.value)
def test_edit_only_after_enrichment_and_before_discard(state: ItemState) -> None:
    item = item_in(state)
    if state in EDITABLE_STATES:
        item.edit(now=LATER, title="  New  ", tags=("X",))
        assert (item.title, item.summary, item.tags) == ("New", "", ("x",))
        assert item.pull_events() == []
    else:
        with pytest.raises(ItemNotEditable):
            item.edit(now=LATER, title="New")
        assert item.title == ""


@pytest.mark.parametrize(
    "source",
    [
        {},
        {"url": "https://a.example", "note": "both"},
        {"url": "ftp://a.example/x"},
        {"url": "/relative"},
        {"note": "   "},
    ],
)
def test_source_needs_exactly_one_usable_value(source: dict[str, str]) -> None:
    with pytest.raises(InvalidSource):
        Source(**source)
