"""Event latency across services: identity sign-up committed -> ledger wallet committed.

Sign-ups are sent open loop at a fixed rate (a late reply does not delay the next one).
Both ends are read afterwards from the two databases: identity's organization row and
ledger's wallet row carry the time each transaction wrote them, so nothing is polled
while measuring and the figure includes outbox relay, JetStream and the consumer.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from dataclasses import dataclass

import psycopg
from keel.identity.v1 import organization_service_pb2, organization_service_pb2_grpc

from keel_devstack.bench.fixtures import mesh_channel, sign_up_request
from keel_devstack.certs import MeshCertificates

WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Latency:
    rate_per_s: float
    """Sign-ups per second actually sent (the schedule's)."""
    events: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    late_sends: int
    """Sign-ups sent more than 50 ms behind schedule (the client could not keep up)."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    # Nearest rank: the smallest value with at least q% of the values at or below it.
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


async def _send(
    identity: str, certs: MeshCertificates, rate: float, seconds: float
) -> tuple[list[str], int]:
    count = max(1, int(rate * seconds))
    emails = [f"lat-{n}-{time.time_ns()}@bench.keel.test" for n in range(count)]
    late = 0
    async with mesh_channel(identity, certs) as channel:
        stub = organization_service_pb2_grpc.OrganizationServiceStub(channel)

        async def sign_up(email: str) -> organization_service_pb2.CreateOrganizationResponse:
            return await stub.CreateOrganization(sign_up_request(email), timeout=60)

        start = time.monotonic()
        pending = []
        for n, email in enumerate(emails):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            late += time.monotonic() - due > 0.05
            pending.append(asyncio.create_task(sign_up(email)))
        replies = await asyncio.gather(*pending)
    return [r.organization.organization_id for r in replies], late


def _times(url: str, query: str, org_ids: list[str]) -> dict[str, float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(query, (org_ids,)).fetchall()
    return {str(org): at.timestamp() for org, at in rows}


def measure(
    identity: str,
    certs: MeshCertificates,
    identity_db: str,
    ledger_db: str,
    rate: float,
    seconds: float,
) -> Latency:
    org_ids, late = asyncio.run(_send(identity, certs, rate, seconds))
    committed = _times(
        identity_db, "SELECT id, created_at FROM organizations WHERE id = ANY(%s::uuid[])", org_ids
    )
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        effects = _times(
            ledger_db,
            "SELECT org_id, created_at FROM accounts"
            " WHERE kind = 'WALLET' AND org_id = ANY(%s::uuid[])",
            org_ids,
        )
        if len(effects) == len(org_ids) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if len(effects) < len(org_ids):
        raise TimeoutError(f"{len(org_ids) - len(effects)} wallets not opened in {WAIT_SECONDS}s")
    millis = [1000.0 * (effects[o] - committed[o]) for o in org_ids]
    return Latency(
        rate_per_s=rate,
        events=len(millis),
        p50_ms=statistics.median(millis),
        p99_ms=percentile(millis, 99),
        max_ms=max(millis),
        late_sends=late,
    )
