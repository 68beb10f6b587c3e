"""Webhook endpoint and delivery repositories (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Text, and_, any_, bindparam, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.app.webhook_delivery import Recipient, deliveries_for
from billing.domain.webhook import Delivery, DeliveryRecord, WebhookEndpoint
from billing.storage.ids import valid_uuid
from billing.storage.tables import (
    webhook_deliveries,
    webhook_endpoints,
)
from keel_runtime.events import Envelope


def _endpoint(row: Row[Any]) -> WebhookEndpoint:
    return WebhookEndpoint(
        webhook_endpoint_id=str(row.webhook_endpoint_id),
        org_id=row.org_id,
        url=row.url,
        event_types=tuple(row.event_types),
        description=row.description,
        create_time=row.create_time,
    )


class WebhookRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, endpoint: WebhookEndpoint, signing_secret: str) -> None:
        await self._conn.execute(
            webhook_endpoints.insert().values(
                webhook_endpoint_id=endpoint.webhook_endpoint_id,
                org_id=endpoint.org_id,
                url=endpoint.url,
                event_types=list(endpoint.event_types),
                description=endpoint.description,
                signing_secret=signing_secret,
                create_time=endpoint.create_time,
            )
        )

    async def get(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        if not valid_uuid(endpoint_id):
            return None
        w = webhook_endpoints.c
        row = (
            await self._conn.execute(
                select(webhook_endpoints).where(
                    w.webhook_endpoint_id == endpoint_id, w.org_id == org_id
                )
            )
        ).first()
        return _endpoint(row) if row else None

    async def delete(self, org_id: str, endpoint_id: str) -> bool:
        if not valid_uuid(endpoint_id):
            return False
        w = webhook_endpoints.c
        result = await self._conn.execute(
            webhook_endpoints.delete()
            .where(w.webhook_endpoint_id == endpoint_id, w.org_id == org_id)
            .returning(w.webhook_endpoint_id)
        )
        return result.first() is not None

    async def list(
        self, org_id: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> list[WebhookEndpoint]:
        w = webhook_endpoints.c
        query = (
            select(webhook_endpoints)
            .where(w.org_id == org_id)
            .order_by(w.create_time.desc(), w.webhook_endpoint_id.desc())
            .limit(limit)
        )
        if before is not None and valid_uuid(before[1]):
            query = query.where(
                or_(
                    w.create_time < before[0],
                    and_(w.create_time == before[0], w.webhook_endpoint_id < before[1]),
                )
            )
        return [_endpoint(r) for r in await self._conn.execute(query)]


# The endpoints of the committing events' organizations (row-level security shows those of the
# organization acted for only).
_RECIPIENTS = select(
    webhook_endpoints.c.webhook_endpoint_id,
    webhook_endpoints.c.org_id,
    webhook_endpoints.c.event_types,
).where(webhook_endpoints.c.org_id == any_(bindparam("org_ids", type_=ARRAY(Text))))

# Every delivery of a commit in one statement, joined with its endpoint again and locked FOR KEY
# SHARE. An endpoint whose DELETE committed since the SELECT above is not joined: it gets none.
# One whose DELETE is still in flight is waited for, then skipped if the delete commits (a row
# lock skips a row deleted meanwhile). Without the lock the insert would see that endpoint and
# the foreign key's own check, waiting for the same DELETE, would then fail the transaction
# recording the events: an endpoint deleted at that moment must never fail the recording.
_ENQUEUE = text(
    """
    INSERT INTO webhook_deliveries (delivery_id, webhook_endpoint_id, event_id, event_type,
                                    body, next_attempt_time, create_time)
    SELECT gen_random_uuid(), w.webhook_endpoint_id, d.event_id, d.event_type, d.body,
           :now, :now
    FROM unnest(CAST(:endpoint_ids AS uuid[]), CAST(:event_ids AS uuid[]),
                CAST(:event_types AS text[]), CAST(:bodies AS bytea[]))
         AS d (webhook_endpoint_id, event_id, event_type, body)
    JOIN webhook_endpoints AS w ON w.webhook_endpoint_id = d.webhook_endpoint_id
    FOR KEY SHARE OF w
    ON CONFLICT (webhook_endpoint_id, event_id) DO NOTHING
    """
)


def _record(row: Row[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        delivery_id=str(row.delivery_id),
        endpoint_id=str(row.webhook_endpoint_id),
        event_id=str(row.event_id),
        event_type=row.event_type,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_time=row.next_attempt_time,
        delivered_time=row.delivered_time,
        abandon_time=row.abandon_time,
        create_time=row.create_time,
    )


class DeliveryRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def enqueue_events(self, envelopes: Sequence[Envelope], now: datetime) -> int:
        """Queue the events for the endpoints that want them, in the transaction committing
        them (the unit of work's event sink); how many deliveries were queued.

        One round trip when the organization has no endpoint, two otherwise; no body is built
        for an event no endpoint wants.
        """
        org_ids = sorted({envelope.org_id for envelope in envelopes})
        recipients = [
            Recipient(str(row.webhook_endpoint_id), row.org_id, tuple(row.event_types))
            for row in await self._conn.execute(_RECIPIENTS, {"org_ids": org_ids})
        ]
        if not recipients:
            return 0
        queued = deliveries_for(recipients, envelopes)
        if not queued:
            return 0
        result = await self._conn.execute(
            _ENQUEUE,
            {
                "endpoint_ids": [q.endpoint_id for q in queued],
                "event_ids": [q.event_id for q in queued],
                "event_types": [q.event_type for q in queued],
                "bodies": [q.body for q in queued],
                "now": now,
            },
        )
        return result.rowcount

    async def organizations_due(self, now: datetime, limit: int) -> list[str]:
        # Across organizations: the migration's SECURITY DEFINER function (0006) returns the
        # organization ids alone; the claim then runs acting for each one.
        rows = await self._conn.execute(
            text("SELECT * FROM billing_organizations_with_due_deliveries(:now, :limit)"),
            {"now": now, "limit": limit},
        )
        return [row[0] for row in rows]

    async def claim_due(self, now: datetime, limit: int, lease_s: float) -> list[Delivery]:
        d, w = webhook_deliveries.c, webhook_endpoints.c
        due = (
            select(d.delivery_id)
            .where(d.delivered_time.is_(None), d.abandon_time.is_(None), d.next_attempt_time <= now)
            .order_by(d.next_attempt_time)
            .limit(limit)
            # Concurrent dispatchers (replicas) take disjoint rows instead of waiting.
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claimed = (
            update(webhook_deliveries)
            .where(d.delivery_id.in_(due))
            .values(next_attempt_time=now + timedelta(seconds=lease_s))
            .returning(
                d.delivery_id, d.webhook_endpoint_id, d.event_id, d.event_type, d.body, d.attempts
            )
            .cte("claimed")
        )
        rows = await self._conn.execute(
            select(claimed, w.url, w.signing_secret).join(
                webhook_endpoints, w.webhook_endpoint_id == claimed.c.webhook_endpoint_id
            )
        )
        return [
            Delivery(
                delivery_id=str(r.delivery_id),
                endpoint_id=str(r.webhook_endpoint_id),
                url=r.url,
                signing_secret=r.signing_secret,
                event_id=str(r.event_id),
                event_type=r.event_type,
                body=bytes(r.body),
                attempts=r.attempts,
            )
            for r in rows
        ]

    async def delivered(self, delivery_id: str, now: datetime) -> None:
        d = webhook_deliveries.c
        await self._conn.execute(
            update(webhook_deliveries)
            .where(d.delivery_id == delivery_id)
            .values(delivered_time=now, attempts=d.attempts + 1, last_error="")
        )

    async def failed(
        self, delivery_id: str, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        d = webhook_deliveries.c
        values: dict[str, Any] = {"attempts": d.attempts + 1, "last_error": error[:500]}
        if retry_at is None:
            values["abandon_time"] = now
        else:
            values["next_attempt_time"] = retry_at
        await self._conn.execute(
            update(webhook_deliveries).where(d.delivery_id == delivery_id).values(values)
        )

    async def list_for_endpoint(
        self, endpoint_id: str, *, before: tuple[datetime, str] | None, limit: int
    ) -> Sequence[DeliveryRecord]:
        d = webhook_deliveries.c
        query = (
            select(webhook_deliveries)
            .where(d.webhook_endpoint_id == endpoint_id)
            .order_by(d.create_time.desc(), d.delivery_id.desc())
            .limit(limit)
        )
        if before is not None and valid_uuid(before[1]):
            query = query.where(
                or_(
                    d.create_time < before[0],
                    and_(d.create_time == before[0], d.delivery_id < before[1]),
                )
            )
        return [_record(r) for r in await self._conn.execute(query)]

    async def redeliver(
        self, endpoint_id: str, delivery_id: str, now: datetime
    ) -> DeliveryRecord | None:
        if not valid_uuid(delivery_id):
            return None
        d = webhook_deliveries.c
        row = (
            await self._conn.execute(
                update(webhook_deliveries)
                .where(d.delivery_id == delivery_id, d.webhook_endpoint_id == endpoint_id)
                .values(
                    next_attempt_time=now,
                    delivered_time=None,
                    abandon_time=None,
                    attempts=0,
                    last_error="",
                )
                .returning(webhook_deliveries)
            )
        ).first()
        return _record(row) if row else None
