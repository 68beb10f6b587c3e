"""Events: envelopes, the transactional outbox and its relay, streams and idempotent consumers."""

from keel_runtime.events.connection import connect_nats, connect_nats_once
from keel_runtime.events.consumer import Consumer, Handler, Subscription
from keel_runtime.events.envelope import Envelope, EnvelopeError, decode, new_event, unpack
from keel_runtime.events.outbox import append
from keel_runtime.events.pruning import prune_events, prune_inbox, prune_outbox, run_pruning
from keel_runtime.events.relay import OutboxRelay, ReplayResult, replay
from keel_runtime.events.streams import (
    DEAD_LETTER_STREAM,
    StreamSettings,
    StreamSpec,
    dead_letter_stream,
    ensure_stream,
    service_stream,
)
from keel_runtime.events.tables import inbox_table, outbox_table

__all__ = [
    "DEAD_LETTER_STREAM",
    "Consumer",
    "Envelope",
    "EnvelopeError",
    "Handler",
    "OutboxRelay",
    "ReplayResult",
    "StreamSettings",
    "StreamSpec",
    "Subscription",
    "append",
    "connect_nats",
    "connect_nats_once",
    "dead_letter_stream",
    "decode",
    "ensure_stream",
    "inbox_table",
    "new_event",
    "outbox_table",
    "prune_events",
    "prune_inbox",
    "prune_outbox",
    "replay",
    "run_pruning",
    "service_stream",
    "unpack",
]
