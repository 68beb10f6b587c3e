"""Domain events -> keel.identity.v1 event messages inside keel.events.v1 envelopes."""

from __future__ import annotations

from keel.events.v1.envelope_pb2 import Envelope
from keel.identity.v1 import events_pb2

from identity.contract import role_to_proto
from identity.domain import events
from keel_runtime.events import new_event
from keel_runtime.timestamps import timestamp

SOURCE = "identity"
ORGANIZATION_CREATED = "identity.organization.created"
USER_CREATED = "identity.user.created"
USER_DEACTIVATED = "identity.user.deactivated"
SESSION_REVOKED = "identity.session.revoked"
API_KEY_CREATED = "identity.api_key.created"
API_KEY_REVOKED = "identity.api_key.revoked"


def to_envelope(event: events.DomainEvent) -> Envelope:
    match event:
        case events.OrganizationCreated():
            return new_event(
                type=ORGANIZATION_CREATED,
                source=SOURCE,
                subject=event.organization_id,
                org_id=event.organization_id,
                payload=events_pb2.OrganizationCreated(
                    organization_id=event.organization_id,
                    display_name=event.display_name,
                    owner_user_id=event.owner_user_id,
                    default_currency=event.default_currency,
                    create_time=timestamp(event.occurred_at),
                ),
            )
        case events.UserCreated():
            return new_event(
                type=USER_CREATED,
                source=SOURCE,
                subject=event.user_id,
                org_id=event.organization_id,
                payload=events_pb2.UserCreated(
                    user_id=event.user_id,
                    organization_id=event.organization_id,
                    email=event.email,
                    roles=[role_to_proto(r) for r in sorted(event.roles)],
                    create_time=timestamp(event.occurred_at),
                ),
            )
        case events.UserDeactivated():
            return new_event(
                type=USER_DEACTIVATED,
                source=SOURCE,
                subject=event.user_id,
                org_id=event.organization_id,
                payload=events_pb2.UserDeactivated(
                    user_id=event.user_id,
                    organization_id=event.organization_id,
                    deactivate_time=timestamp(event.occurred_at),
                ),
            )
        case events.SessionRevoked():
            return new_event(
                type=SESSION_REVOKED,
                source=SOURCE,
                subject=event.session_id,
                org_id=event.organization_id,
                payload=events_pb2.SessionRevoked(
                    session_id=event.session_id,
                    user_id=event.user_id,
                    organization_id=event.organization_id,
                    revoke_time=timestamp(event.occurred_at),
                    reason=events_pb2.SessionRevocationReason.Value(
                        f"SESSION_REVOCATION_REASON_{event.reason.value}"
                    ),
                ),
            )
        case events.ApiKeyCreated():
            return new_event(
                type=API_KEY_CREATED,
                source=SOURCE,
                subject=event.api_key_id,
                org_id=event.organization_id,
                payload=events_pb2.ApiKeyCreated(
                    api_key_id=event.api_key_id,
                    organization_id=event.organization_id,
                    prefix=event.prefix,
                    scopes=sorted(event.scopes),
                    created_by=event.creator_user_id,
                    create_time=timestamp(event.occurred_at),
                ),
            )
        case events.ApiKeyRevoked():
            return new_event(
                type=API_KEY_REVOKED,
                source=SOURCE,
                subject=event.api_key_id,
                org_id=event.organization_id,
                payload=events_pb2.ApiKeyRevoked(
                    api_key_id=event.api_key_id,
                    organization_id=event.organization_id,
                    revoke_time=timestamp(event.occurred_at),
                ),
            )
    raise TypeError(f"unknown domain event {event!r}")
