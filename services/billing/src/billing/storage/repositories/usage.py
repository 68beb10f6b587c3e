"""Usage repository: idempotent inserts and one-pass aggregation (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.domain.pricing import Aggregation
from billing.domain.usage import MetricUsage, UsageRecord
from billing.storage.tables import usage_records


def _usage(row: Row[Any]) -> UsageRecord:
    return UsageRecord(
        usage_record_id=str(row.usage_record_id),
        org_id=row.org_id,
        metric=row.metric,
        quantity=row.quantity,
        dedup_key=row.dedup_key,
        event_time=row.event_time,
        record_time=row.record_time,
        distinct_value=row.distinct_value,
    )


class UsageRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_many(self, records: Sequence[UsageRecord]) -> list[UsageRecord]:
        if not records:
            return []
        result = await self._conn.execute(
            insert(usage_records)
            .values(
                [
                    {
                        "usage_record_id": r.usage_record_id,
                        "org_id": r.org_id,
                        "metric": r.metric,
                        "quantity": r.quantity,
                        "dedup_key": r.dedup_key,
                        "event_time": r.event_time,
                        "distinct_value": r.distinct_value,
                        "record_time": r.record_time,
                    }
                    for r in records
                ]
            )
            .on_conflict_do_nothing(
                index_elements=[usage_records.c.org_id, usage_records.c.dedup_key]
            )
            .returning(usage_records.c.usage_record_id)
        )
        inserted = {str(row.usage_record_id) for row in result}
        return [r for r in records if r.usage_record_id in inserted]

    async def get_by_dedup_key(self, org_id: str, dedup_key: str) -> UsageRecord | None:
        return (await self.get_by_dedup_keys(org_id, [dedup_key])).get(dedup_key)

    async def get_by_dedup_keys(
        self, org_id: str, dedup_keys: Sequence[str]
    ) -> dict[str, UsageRecord]:
        if not dedup_keys:
            return {}
        rows = await self._conn.execute(
            select(usage_records).where(
                usage_records.c.org_id == org_id,
                usage_records.c.dedup_key.in_(sorted(set(dedup_keys))),
            )
        )
        return {row.dedup_key: _usage(row) for row in rows}

    async def summarize(
        self,
        org_id: str,
        start: datetime,
        end: datetime,
        *,
        metrics: Sequence[str],
        aggregations: Mapping[str, Aggregation],
        fallback: Aggregation,
    ) -> list[MetricUsage]:
        u = usage_records.c
        # Every aggregate in one pass; the metric's aggregation picks one.
        latest = func.array_agg(
            aggregate_order_by(
                u.quantity, u.event_time.desc(), u.record_time.desc(), u.usage_record_id.desc()
            )
        )[1]
        query = (
            select(
                u.metric,
                func.coalesce(func.sum(u.quantity), 0).label("sum"),
                func.count().label("count"),
                func.coalesce(func.max(u.quantity), 0).label("max"),
                func.count(func.distinct(func.nullif(u.distinct_value, ""))).label("unique_count"),
                func.coalesce(func.min(u.quantity), 0).label("min"),
                func.coalesce(latest, 0).label("latest"),
            )
            .where(u.org_id == org_id, u.event_time >= start, u.event_time < end)
            .group_by(u.metric)
            .order_by(u.metric)
        )
        if metrics:
            query = query.where(u.metric.in_(list(metrics)))
        # Mappings, not attribute access: a Row's own tuple methods (count) shadow labels.
        found = {row["metric"]: row for row in (await self._conn.execute(query)).mappings()}
        names = sorted(set(metrics) | set(found)) if metrics else sorted(found)
        out = []
        for name in names:
            aggregation = aggregations.get(name, fallback)
            row = found.get(name)
            total, count = (int(row["sum"]), int(row["count"])) if row else (0, 0)
            if aggregation is Aggregation.AVG:
                value = round(Fraction(total, count)) if count else 0
            else:
                value = int(row[aggregation.value]) if row else 0
            out.append(MetricUsage(name, aggregation, value, count, total))
        return out
