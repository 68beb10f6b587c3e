"""Outbox writes (inside the command's transaction) and the relay wake-ups: a notification
delivered at commit to relays listening on the database, and a direct one in this process."""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime.events.tables import OUTBOX

if TYPE_CHECKING:
    from keel.events.v1.envelope_pb2 import Envelope

# Message header names carried next to the envelope (the envelope holds them too).
HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_EVENT_TYPE = "Keel-Event-Type"
HEADER_REQUEST_ID = "X-Request-Id"
HEADER_TRACEPARENT = "traceparent"

NOTIFY_CHANNEL = "keel_outbox"
"""PostgreSQL channel on which a transaction that wrote outbox rows notifies at its commit
(channels are per database: the relays of that database listen)."""
_NOTIFY = text(f"NOTIFY {NOTIFY_CHANNEL}")


def event_headers(envelope: Envelope) -> dict[str, str]:
    """Headers stored with an outbox row; the relay adds ``Nats-Msg-Id``."""
    headers = {HEADER_EVENT_TYPE: envelope.type}
    if envelope.request_id:
        headers[HEADER_REQUEST_ID] = envelope.request_id
    if envelope.traceparent:
        headers[HEADER_TRACEPARENT] = envelope.traceparent
    return headers


async def append(
    connection: AsyncConnection, envelopes: Iterable[Envelope], *, notify: bool = True
) -> None:
    """Insert envelopes into the outbox with the caller's transaction (one executemany), and
    with ``notify`` the database's relays, which PostgreSQL does at commit (never on a
    rollback). A caller that wakes this process's relay after its commit, when that relay is
    the one publishing (``publishing_here``), passes False: a notifying commit holds a lock
    that serialises every notifying commit of the cluster."""
    rows = [
        {
            "id": uuid.UUID(envelope.id),
            # The event type (``<service>.<aggregate>.<event>``) is the NATS subject.
            "subject": envelope.type,
            "type": envelope.payload.TypeName() or envelope.type,
            "payload": envelope.SerializeToString(),
            "headers": event_headers(envelope),
        }
        for envelope in envelopes
    ]
    if rows:
        await connection.execute(insert(OUTBOX), rows)
        if notify:
            # A relay in another process (another replica's, or the only one when the
            # writer is an operator command) would otherwise wait for its next poll.
            await connection.execute(_NOTIFY)


# Relays running in this process, by engine: a commit with events wakes them at once
# instead of waiting for the next poll. Keyed weakly so engines can be garbage collected.
_wakers: weakref.WeakKeyDictionary[Engine, set[asyncio.Event]] = weakref.WeakKeyDictionary()


def register_waker(engine: AsyncEngine, event: asyncio.Event) -> None:
    _wakers.setdefault(engine.sync_engine, set()).add(event)


def unregister_waker(engine: AsyncEngine, event: asyncio.Event) -> None:
    _wakers.get(engine.sync_engine, set()).discard(event)


# Relays of this process that took the outbox's lock on their last pass, by engine.
_publishing: weakref.WeakKeyDictionary[Engine, set[asyncio.Event]] = weakref.WeakKeyDictionary()


def set_publishing(engine: AsyncEngine, event: asyncio.Event, publishing: bool) -> None:
    """A relay says whether its last pass held the outbox's lock (it is the one publishing)."""
    holders = _publishing.setdefault(engine.sync_engine, set())
    if publishing:
        holders.add(event)
    else:
        holders.discard(event)


def publishing_here(engine: AsyncEngine) -> bool:
    """Whether a relay of this process publishes this database's outbox: a commit's
    in-process wake-up (``notify_committed``) reaches it without a notification. Should
    another relay take the lock meanwhile, the row waits for a poll at worst."""
    return bool(_publishing.get(engine.sync_engine))


def notify_committed(engine: AsyncEngine) -> None:
    """Called after a commit that wrote outbox rows."""
    for event in _wakers.get(engine.sync_engine, ()):
        event.set()
