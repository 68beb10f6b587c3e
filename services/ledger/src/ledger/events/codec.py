"""Domain events -> keel.events.v1 envelopes carrying keel.ledger.v1 event messages."""

from __future__ import annotations

from keel.ledger.v1 import events_pb2 as pb

from keel_runtime.events import Envelope, new_event
from keel_runtime.timestamps import timestamp
from ledger import contract
from ledger.domain import events as ev
from ledger.domain.checkpoint import Checkpoint

SOURCE = "ledger"


def encode(event: ev.DomainEvent) -> Envelope:
    """The envelope (type = NATS subject ``ledger.<aggregate>.<event>``) of a domain event."""
    tx = contract.transaction_to_proto
    match event:
        case ev.CheckpointRecorded(checkpoint):
            return _checkpoint(checkpoint)
        case ev.AccountOpened(account):
            return new_event(
                type="ledger.account.opened",
                source=SOURCE,
                subject=account.id,
                org_id=account.org_id,
                payload=pb.AccountOpened(account=contract.account_to_proto(account)),
            )
        case ev.TransactionPosted(t):
            type_, payload, about = "posted", pb.TransactionPosted(transaction=tx(t)), t
        case ev.PendingCreated(t):
            type_, payload, about = "pending_created", pb.PendingCreated(transaction=tx(t)), t
        case ev.PendingPosted(hold, t):
            type_, about = "pending_posted", hold
            payload = pb.PendingPosted(pending_transaction=tx(hold), transaction=tx(t))
        case ev.PendingVoided(hold, t):
            type_, about = "pending_voided", hold
            payload = pb.PendingVoided(pending_transaction=tx(hold), transaction=tx(t))
        case ev.PendingExpired(hold, t):
            type_, about = "pending_expired", hold
            payload = pb.PendingExpired(pending_transaction=tx(hold), transaction=tx(t))
        case ev.TransactionReversed(original, t):
            type_, about = "reversed", original
            payload = pb.TransactionReversed(reversed_transaction=tx(original), transaction=tx(t))
    return new_event(
        type=f"ledger.transaction.{type_}",
        source=SOURCE,
        subject=about.id,
        org_id=about.org_id,
        payload=payload,
    )


def _checkpoint(checkpoint: Checkpoint) -> Envelope:
    """A checkpoint belongs to no organization: the envelope's org_id is empty."""
    return new_event(
        type="ledger.checkpoint.recorded",
        source=SOURCE,
        subject=f"{checkpoint.key_id}/{checkpoint.sequence}",
        org_id="",
        payload=pb.CheckpointRecorded(
            sequence=checkpoint.sequence,
            key_id=checkpoint.key_id,
            record_time=timestamp(checkpoint.taken_at),
            account_count=len(checkpoint.heads),
            heads_digest=checkpoint.heads_digest,
            previous_mac=checkpoint.previous_mac,
            mac=checkpoint.mac,
        ),
    )
