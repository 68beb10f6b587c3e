"""Event latency across services: a commit in identity -> the ledger wallet it opens committed.

Two measurements, both read afterwards from the two databases, so nothing is polled while
measuring and the figure includes the outbox relay, JetStream and the consumer:

- ``outbox_commits``: ``identity.organization.created`` events committed straight into
  identity's outbox, one transaction each, at a fixed rate (500/s, the goal's). That is what
  a command's commit does (``keel_runtime.events.append`` in the transaction), without the
  command's own work: a sign-up hashes a password (~30 ms of a core), so 500 sign-ups/s
  cannot even be sent on two cores, and a figure taken through them measures a saturated
  identity rather than the event path.
- ``sign_ups``: real sign-ups (CreateOrganization) at the low rate the password hash allows.

Both are open loop: a late commit or reply does not delay the next one. The commit side is
the outbox row's (or organization row's) ``created_at`` (the transaction's start, a
millisecond before its commit for these one-statement transactions); the effect side is the
wallet's ``created_at``, stamped by ledger's handler inside the transaction that commits it.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import psycopg
from keel.identity.v1 import events_pb2 as identity_events
from keel.identity.v1 import organization_service_pb2, organization_service_pb2_grpc
from sqlalchemy.ext.asyncio import create_async_engine

from keel_devstack.bench.fixtures import mesh_channel, sign_up_request
from keel_devstack.certs import MeshCertificates
from keel_runtime.db import async_url
from keel_runtime.events import Envelope, append, new_event

WAIT_SECONDS = 60.0
LATE_SECONDS = 0.05
"""A commit (or a sign-up sent) further behind its schedule than this counts as late."""
WRITERS = 8
"""Connections committing outbox events: enough that one slow commit delays no other."""
ORGANIZATION_CREATED = "identity.organization.created"
WALLETS = (
    "SELECT org_id, created_at FROM accounts WHERE kind = 'WALLET' AND org_id = ANY(%s::uuid[])"
)


@dataclass(frozen=True)
class Latency:
    rate_per_s: float
    """The schedule's rate."""
    sent_per_s: float
    """The rate achieved: events (or sign-ups) over the time from the first to the last."""
    events: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    late_sends: int
    """Commits (or sign-ups) begun more than LATE_SECONDS behind schedule: the sender or
    the producer's database could not keep up, and the rate was not what it says."""
    unfinished: int = 0
    """Wallets still not opened WAIT_SECONDS after the last commit; counted with the time
    waited for them, so the percentiles are then lower bounds."""
    relay_p50_ms: float | None = None
    """Of the latency, commit -> the relay's pass that published the event (its start)."""
    relay_p99_ms: float | None = None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    # Nearest rank: the smallest value with at least q% of the values at or below it.
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def _organization_created(org_id: str) -> Envelope:
    """The event identity's sign-up commits (identity.events.codec), for a new organization."""
    payload = identity_events.OrganizationCreated(
        organization_id=org_id,
        display_name="Bench",
        owner_user_id=str(uuid.uuid4()),
    )
    return new_event(
        type=ORGANIZATION_CREATED,
        source="identity",
        subject=org_id,
        org_id=org_id,
        payload=payload,
    )


async def _commit_events(identity_db: str, rate: float, seconds: float) -> _Sent:
    count = max(1, int(rate * seconds))
    envelopes = [_organization_created(str(uuid.uuid4())) for _ in range(count)]
    # A commit may wait long for a connection when the database is saturated: it is late
    # then, which is reported, rather than an error that leaves no figure.
    engine = create_async_engine(
        async_url(identity_db), pool_size=WRITERS, max_overflow=0, pool_timeout=WAIT_SECONDS
    )
    late = 0
    try:
        # Every connection of the pool opened before the clock starts.
        conns = [await engine.connect() for _ in range(WRITERS)]
        for conn in conns:
            await conn.close()

        async def commit(envelope: Envelope, due: float) -> float:
            nonlocal late
            async with engine.begin() as conn:
                began = time.monotonic()
                late += began - due > LATE_SECONDS
                # As UnitOfWork.commit: occurred_at is the writing transaction's time.
                envelope.occurred_at.FromDatetime(datetime.now(UTC))
                await append(conn, [envelope])
            return began

        start = time.monotonic()
        pending = []
        for n, envelope in enumerate(envelopes):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            pending.append(asyncio.create_task(commit(envelope, due)))
        began = await asyncio.gather(*pending)
    finally:
        await engine.dispose()
    return _Sent(
        org_ids=[e.org_id for e in envelopes],
        commits={e.org_id: e.id for e in envelopes},
        late=late,
        per_s=_achieved(count, start, max(began)),
    )


@dataclass(frozen=True)
class _Sent:
    org_ids: list[str]
    commits: dict[str, str]
    """Organization -> the outbox row (event id) that announced it."""
    late: int
    per_s: float


def _achieved(count: int, start: float, last: float) -> float:
    return count / (last - start) if count > 1 and last > start else float(count)


def outbox_commits(identity_db: str, ledger_db: str, rate: float, seconds: float) -> Latency:
    """``rate`` organization-created events a second committed through identity's outbox."""
    sent = asyncio.run(_commit_events(identity_db, rate, seconds))
    event_ids = list(sent.commits.values())
    by_event = _times(
        identity_db, "SELECT id, created_at FROM outbox WHERE id = ANY(%s::uuid[])", event_ids
    )
    committed = {org: by_event[event] for org, event in sent.commits.items()}
    found = _latency(ledger_db, sent, committed, rate)
    relayed = _times(
        identity_db,
        "SELECT id, published_at FROM outbox WHERE id = ANY(%s::uuid[])"
        " AND published_at IS NOT NULL",
        event_ids,
    )
    relay_ms = [1000.0 * (relayed[e] - by_event[e]) for e in event_ids if e in relayed]
    return replace(
        found,
        relay_p50_ms=statistics.median(relay_ms) if relay_ms else None,
        relay_p99_ms=percentile(relay_ms, 99) if relay_ms else None,
    )


async def _sign_up(identity: str, certs: MeshCertificates, rate: float, seconds: float) -> _Sent:
    count = max(1, int(rate * seconds))
    emails = [f"lat-{n}-{time.time_ns()}@bench.keel.test" for n in range(count)]
    late = 0
    async with mesh_channel(identity, certs) as channel:
        stub = organization_service_pb2_grpc.OrganizationServiceStub(channel)

        async def sign_up(email: str) -> organization_service_pb2.CreateOrganizationResponse:
            return await stub.CreateOrganization(sign_up_request(email), timeout=60)

        start = time.monotonic()
        sent_at = start
        pending = []
        for n, email in enumerate(emails):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            sent_at = time.monotonic()
            late += sent_at - due > LATE_SECONDS
            pending.append(asyncio.create_task(sign_up(email)))
        replies = await asyncio.gather(*pending)
    org_ids = [r.organization.organization_id for r in replies]
    return _Sent(org_ids, {}, late, _achieved(count, start, sent_at))


def sign_ups(
    identity: str,
    certs: MeshCertificates,
    identity_db: str,
    ledger_db: str,
    rate: float,
    seconds: float,
) -> Latency:
    """``rate`` sign-ups a second (CreateOrganization, password hash included)."""
    sent = asyncio.run(_sign_up(identity, certs, rate, seconds))
    committed = _times(
        identity_db,
        "SELECT id, created_at FROM organizations WHERE id = ANY(%s::uuid[])",
        sent.org_ids,
    )
    return _latency(ledger_db, sent, committed, rate)


def _times(url: str, query: str, ids: list[str]) -> dict[str, float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(query, (ids,)).fetchall()
    return {str(key): at.timestamp() for key, at in rows}


def _latency(ledger_db: str, sent: _Sent, committed: dict[str, float], rate: float) -> Latency:
    org_ids = sent.org_ids
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        effects = _times(ledger_db, WALLETS, org_ids)
        if len(effects) == len(org_ids) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    gave_up = time.time()
    millis = [1000.0 * (effects.get(o, gave_up) - committed[o]) for o in org_ids]
    return Latency(
        rate_per_s=rate,
        sent_per_s=sent.per_s,
        events=len(millis),
        p50_ms=statistics.median(millis),
        p99_ms=percentile(millis, 99),
        max_ms=max(millis),
        late_sends=sent.late,
        unfinished=len(org_ids) - len(effects),
    )
