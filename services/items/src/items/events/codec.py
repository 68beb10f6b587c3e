"""Domain events to protobuf envelopes (types and subjects `items.<aggregate>.<event>`)."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message
from keel.events.v1.envelope_pb2 import Envelope
from keel.items.v1 import events_pb2

from items.domain import events
from keel_runtime.events import StreamSpec, new_event, service_stream
from keel_runtime.timestamps import timestamp

SOURCE = "items"
NAMESPACE = "items"

# Event names under the namespace; the full type (and NATS subject) is "<namespace>.<name>".
ITEM_CREATED = "item.created"
ENRICHMENT_REQUESTED = "enrichment.requested"
ITEM_ENRICHED = "item.enriched"
ENRICHMENT_FAILED = "enrichment.failed"
ITEM_CONFIRMED = "item.confirmed"
ITEM_DISCARDED = "item.discarded"


@dataclass(frozen=True)
class EventCodec:
    """Builds envelopes under one namespace: "items" in production; tests use a unique one
    so that concurrent runs on one NATS server get streams and subjects of their own."""

    namespace: str = NAMESPACE

    @property
    def stream(self) -> StreamSpec:
        return service_stream(self.namespace)

    def subject(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def to_envelope(self, event: events.DomainEvent) -> Envelope:
        name, payload = _payload(event)
        return new_event(
            type=self.subject(name),
            source=SOURCE,
            subject=str(event.item_id),
            org_id=event.org_id,
            payload=payload,
        )


def _payload(event: events.DomainEvent) -> tuple[str, Message]:
    match event:
        case events.ItemCreated():
            created = events_pb2.ItemCreated(
                item_id=str(event.item_id),
                organization_id=event.org_id,
                created_by=event.created_by,
            )
            if event.url is not None:
                created.url = event.url
            else:
                created.note = event.note or ""
            return ITEM_CREATED, created
        case events.EnrichmentRequested():
            return ENRICHMENT_REQUESTED, events_pb2.EnrichmentRequested(
                item_id=str(event.item_id),
                organization_id=event.org_id,
                requested_by=event.requested_by,
            )
        case events.ItemEnriched():
            return ITEM_ENRICHED, events_pb2.ItemEnriched(
                item_id=str(event.item_id),
                organization_id=event.org_id,
                title=event.title,
                summary=event.summary,
                tags=list(event.tags),
                attempts=event.attempts,
            )
        case events.EnrichmentFailed():
            return ENRICHMENT_FAILED, events_pb2.EnrichmentFailed(
                item_id=str(event.item_id),
                organization_id=event.org_id,
                reason=event.reason,
                attempts=event.attempts,
            )
        case events.ItemConfirmed():
            return ITEM_CONFIRMED, events_pb2.ItemConfirmed(
                item_id=str(event.item_id),
                organization_id=event.org_id,
                confirmed_by=event.confirmed_by,
                tags=list(event.tags),
                confirm_time=timestamp(event.confirm_time),
            )
        case events.ItemDiscarded():
            return ITEM_DISCARDED, events_pb2.ItemDiscarded(
                item_id=str(event.item_id),
                organization_id=event.org_id,
                discarded_by=event.discarded_by,
            )
    raise TypeError(f"no codec for {type(event).__name__}")  # pragma: no cover
