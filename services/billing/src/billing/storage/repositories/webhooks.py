"""Webhook endpoint and delivery repositories (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.domain.webhook import Delivery, DeliveryRecord, WebhookEndpoint
from billing.storage.ids import valid_uuid
from billing.storage.tables import (
    webhook_deliveries,
    webhook_endpoints,
)


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

    async def enqueue(
        self, org_id: str, event_id: str, event_type: str, body: bytes, now: datetime
    ) -> int:
        w, d = webhook_endpoints.c, webhook_deliveries.c
        wanted = select(
            func.gen_random_uuid(),
            w.webhook_endpoint_id,
            literal(event_id, d.event_id.type),
            literal(event_type),
            literal(body, d.body.type),
            literal(now, d.next_attempt_time.type),
            literal(now, d.create_time.type),
        ).where(
            w.org_id == org_id,
            # An empty list means every event; otherwise the JSON array must hold the type.
            or_(func.jsonb_array_length(w.event_types) == 0, w.event_types.has_key(event_type)),
        )
        result = await self._conn.execute(
            insert(webhook_deliveries)
            .from_select(
                [
                    "delivery_id",
                    "webhook_endpoint_id",
                    "event_id",
                    "event_type",
                    "body",
                    "next_attempt_time",
                    "create_time",
                ],
                wanted,
            )
            .on_conflict_do_nothing(index_elements=[d.webhook_endpoint_id, d.event_id])
            .returning(d.delivery_id)
        )
        return len(result.all())

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
