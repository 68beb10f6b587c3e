"""Identity's own revocation events -> the REVOCATIONS bucket every service watches.

The events leave through the outbox like any other (a crash between commit and publish loses
nothing); this consumer reads them back from the IDENTITY stream and writes one bucket entry
per revoked session, user or API key. A bucket write is idempotent and keeps the later time,
so a redelivery, or a write whose inbox row then failed to commit, does no harm.

One consumer on the three revocation subjects: the broker delivers none of identity's other
events (sign-ups, users, keys), which would each cost the consumer an inbox row for nothing.
"""

from __future__ import annotations

from datetime import timedelta

from google.protobuf import timestamp_pb2
from keel.identity.v1 import events_pb2
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from sqlalchemy.ext.asyncio import AsyncConnection

from identity.adapters.crypto.tokens import LEEWAY_SECONDS
from identity.events.codec import API_KEY_REVOKED, SESSION_REVOKED, SOURCE, USER_DEACTIVATED
from keel_runtime.events import Envelope, StreamSettings, Subscription, unpack
from keel_runtime.events.revocation_bucket import ensure_bucket, record
from keel_runtime.revocation import API_KEY, DEFAULT_SKEW_S, SESSION, USER

CONSUMER = "identity-revocations"


def _epoch_seconds(at: timestamp_pb2.Timestamp) -> int:
    # Whole seconds, rounded down like a token's iat: a token issued in the same second as
    # its user's deactivation, but before it, is still refused (iat <= revoked_at).
    return int(at.seconds)


def _revocation(envelope: Envelope) -> tuple[str, str, int] | None:
    """(kind, id, revoked-at second) of a revocation event; None for any other event."""
    if envelope.type == SESSION_REVOKED:
        session = unpack(envelope, events_pb2.SessionRevoked)
        return SESSION, session.session_id, _epoch_seconds(session.revoke_time)
    if envelope.type == USER_DEACTIVATED:
        user = unpack(envelope, events_pb2.UserDeactivated)
        return USER, user.user_id, _epoch_seconds(user.deactivate_time)
    if envelope.type == API_KEY_REVOKED:
        key = unpack(envelope, events_pb2.ApiKeyRevoked)
        return API_KEY, key.api_key_id, _epoch_seconds(key.revoke_time)
    return None


def revocation_subscription(kv: KeyValue) -> Subscription:
    """The consumer that writes revocation events to the bucket behind ``kv``."""

    async def write(conn: AsyncConnection, envelope: Envelope) -> None:
        revocation = _revocation(envelope)
        if revocation is not None:
            await record(kv, *revocation)

    return Subscription(
        consumer=CONSUMER,
        stream=SOURCE.upper(),
        filter_subject=SESSION_REVOKED,
        filter_subjects=(USER_DEACTIVATED, API_KEY_REVOKED),
        handler=write,
    )


async def declare_revocations(
    js: JetStreamContext, *, access_ttl: timedelta, streams: StreamSettings
) -> Subscription:
    """Declare the bucket (entries live as long as a token they refuse: the access-token
    lifetime plus the largest skew a verifier allows); the subscription that fills it."""
    horizon_s = access_ttl.total_seconds() + max(LEEWAY_SECONDS, DEFAULT_SKEW_S)
    kv = await ensure_bucket(js, horizon_s=horizon_s, replicas=streams.replicas)
    return revocation_subscription(kv)
