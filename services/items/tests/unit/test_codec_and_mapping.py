"""Domain events to envelopes, and protobuf translation."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from keel.items.v1 import events_pb2, item_pb2, item_service_pb2

from items import contract
from items.domain import events
from items.domain.errors import ItemNotFound
from items.domain.model import Item, ItemState, Source
from items.events import codec
from items.transport import mapping
from keel_runtime.context import Principal
from keel_runtime.errors import CallerRefused
from keel_runtime.events import unpack

ITEM = UUID("5f0c6f1e-7a53-4b4e-8f38-0d1e2f3a4b5c")
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "subject", "message"),
    [
        (
            events.ItemCreated(ITEM, "org-a", "https://a.example", None, "u"),
            "items.item.created",
            events_pb2.ItemCreated(
                item_id=str(ITEM), organization_id="org-a", url="https://a.example", created_by="u"
            ),
        ),
        (
            events.ItemCreated(ITEM, "org-a", None, "text", "u"),
            "items.item.created",
            events_pb2.ItemCreated(
                item_id=str(ITEM), organization_id="org-a", note="text", created_by="u"
            ),
        ),
        (
            events.EnrichmentRequested(ITEM, "org-a", "u"),
            "items.enrichment.requested",
            events_pb2.EnrichmentRequested(
                item_id=str(ITEM), organization_id="org-a", requested_by="u"
            ),
        ),
        (
            events.ItemEnriched(ITEM, "org-a", "T", "S", ("a",), 2),
            "items.item.enriched",
            events_pb2.ItemEnriched(
                item_id=str(ITEM),
                organization_id="org-a",
                title="T",
                summary="S",
                tags=["a"],
                attempts=2,
            ),
        ),
        (
            events.EnrichmentFailed(ITEM, "org-a", "down", 5),
            "items.enrichment.failed",
            events_pb2.EnrichmentFailed(
                item_id=str(ITEM), organization_id="org-a", reason="down", attempts=5
            ),
        ),
        (
            events.ItemDiscarded(ITEM, "org-a", "u"),
            "items.item.discarded",
            events_pb2.ItemDiscarded(item_id=str(ITEM), organization_id="org-a", discarded_by="u"),
        ),
    ],
)
def test_event_envelopes(event: events.DomainEvent, subject: str, message: object) -> None:
    envelope = codec.EventCodec().to_envelope(event)
    assert (envelope.type, envelope.source, envelope.subject, envelope.org_id) == (
        subject,
        "items",
        str(ITEM),
        "org-a",
    )
    assert unpack(envelope, type(message)) == message  # type: ignore[arg-type]


def test_item_confirmed_carries_org_item_and_time() -> None:
    envelope = codec.EventCodec().to_envelope(events.ItemConfirmed(ITEM, "org-a", "u", ("x",), NOW))
    payload = unpack(envelope, events_pb2.ItemConfirmed)
    assert envelope.type == "items.item.confirmed"
    assert (payload.item_id, payload.organization_id, payload.confirmed_by, list(payload.tags)) == (
        str(ITEM),
        "org-a",
        "u",
        ["x"],
    )
    assert payload.confirm_time.ToDatetime(tzinfo=UTC) == NOW


def test_namespace_names_types_and_stream() -> None:
    test_codec = codec.EventCodec("t123")
    envelope = test_codec.to_envelope(events.ItemDiscarded(ITEM, "org-a", "u"))
    assert envelope.type == "t123.item.discarded"
    assert (test_codec.stream.name, test_codec.stream.subjects) == ("T123", ["t123.>"])
    assert (codec.EventCodec().stream.name, codec.EventCodec().stream.subjects) == (
        "ITEMS",
        ["items.>"],
    )


def test_item_to_proto() -> None:
    item = Item(
        id=ITEM,
        org_id="org-a",
        source=Source(note="n"),
        state=ItemState.CONFIRMED,
        created_by="u",
        create_time=NOW,
        update_time=NOW,
        title="T",
        tags=("a", "b"),
        confirm_time=NOW,
    )
    message = contract.item_to_proto(item)
    assert (message.item_id, message.organization_id) == (str(ITEM), "org-a")
    assert message.state == item_pb2.ITEM_STATE_CONFIRMED
    assert (message.WhichOneof("source"), message.note, list(message.tags)) == (
        "note",
        "n",
        ["a", "b"],
    )
    assert message.confirm_time.ToDatetime(tzinfo=UTC) == NOW


def test_every_domain_state_has_a_proto_state() -> None:
    for state in ItemState:
        assert item_pb2.ItemState.Value(f"ITEM_STATE_{state.value}") > 0


def test_a_caller_needs_an_org() -> None:
    with pytest.raises(CallerRefused):
        mapping.caller(Principal(subject="svc", kind="service"))
    caller = mapping.caller(Principal(subject="u", org_id="o", roles=frozenset({"OWNER"})))
    assert (caller.subject, caller.org_id, caller.roles) == ("u", "o", frozenset({"OWNER"}))


def test_update_without_mask_uses_populated_fields() -> None:
    caller = mapping.caller(Principal(subject="u", org_id="o"))
    request = item_service_pb2.UpdateItemRequest(
        item=item_pb2.Item(item_id=str(ITEM), title="T", tags=["x"])
    )
    assert mapping.update_item(request, caller).mask == ("title", "tags")
    request.update_mask.CopyFrom(FieldMask(paths=["summary"]))
    assert mapping.update_item(request, caller).mask == ("summary",)


def test_malformed_id_is_not_found() -> None:
    with pytest.raises(ItemNotFound):
        mapping.item_id("nope")
