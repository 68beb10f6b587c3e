"""Plan repository (SQLAlchemy Core)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.domain.plan import Interval, Plan
from billing.storage import json_codec
from billing.storage.tables import plans

# Built once: every RecordUsage of a subscribed organization reads its plan.
_BY_ID = select(plans).where(plans.c.plan_id == bindparam("plan_id"))
# And every sign-up the default plan.
_DEFAULT = select(plans).where(plans.c.is_default)


class PlanRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    @staticmethod
    def _from_row(row: Row[Any]) -> Plan:
        return Plan(
            plan_id=row.plan_id,
            display_name=row.display_name,
            currency=row.currency,
            interval=Interval(row.interval),
            prices=json_codec.prices_from_json(row.prices),
            create_time=row.create_time,
            archive_time=row.archive_time,
            is_default=row.is_default,
        )

    async def get(self, plan_id: str) -> Plan | None:
        row = (await self._conn.execute(_BY_ID, {"plan_id": plan_id})).first()
        return self._from_row(row) if row else None

    async def get_default(self) -> Plan | None:
        row = (await self._conn.execute(_DEFAULT)).first()
        return self._from_row(row) if row else None

    async def get_by_request_id(self, request_id: str) -> tuple[Plan, str] | None:
        query = select(plans).where(plans.c.request_id == request_id)
        row = (await self._conn.execute(query)).first()
        return (self._from_row(row), str(row.request_fingerprint)) if row else None

    async def add(
        self, plan: Plan, *, request_id: str | None = None, fingerprint: str | None = None
    ) -> bool:
        result = await self._conn.execute(
            insert(plans)
            .values(
                plan_id=plan.plan_id,
                display_name=plan.display_name,
                currency=plan.currency,
                interval=plan.interval.value,
                prices=json_codec.prices_to_json(plan.prices),
                is_default=plan.is_default,
                create_time=plan.create_time,
                archive_time=plan.archive_time,
                request_id=request_id,
                request_fingerprint=fingerprint,
            )
            # Either key (plan id, request id): a concurrent create waits for the other
            # transaction, then inserts nothing, so the caller can read the winner's plan.
            .on_conflict_do_nothing()
            .returning(plans.c.plan_id)
        )
        return result.first() is not None

    async def save(self, plan: Plan) -> None:
        await self._conn.execute(
            update(plans)
            .where(plans.c.plan_id == plan.plan_id)
            .values(archive_time=plan.archive_time)
        )

    async def list(self, *, after: str, limit: int, include_archived: bool) -> list[Plan]:
        query = select(plans).where(plans.c.plan_id > after).order_by(plans.c.plan_id).limit(limit)
        if not include_archived:
            query = query.where(plans.c.archive_time.is_(None))
        return [self._from_row(r) for r in await self._conn.execute(query)]
