"""Usage repository: idempotent inserts with running totals, and aggregation (SQLAlchemy
Core)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Row, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.domain.pricing import Aggregation
from billing.domain.usage import MetricUsage, TallyPeriod, UsageRecord
from billing.storage.tables import usage_aggregate_values, usage_aggregates, usage_records

_LATEST = "ORDER BY event_time DESC, record_time DESC, usage_record_id DESC"
_NEWER = (
    "(excluded.latest_event_time, excluded.latest_record_time, excluded.latest_usage_record_id)"
    " > (a.latest_event_time, a.latest_record_time, a.latest_usage_record_id)"
)

# The records of one organization (arrays, so the text is the same for every batch size),
# inserted unless their dedup key is known; the distinct values they bring; and the running
# totals of each (metric, period_start) they belong to. Returns the inserted records' ids.
# Rows are written in key order, so concurrent batches sharing keys or metrics wait for one
# another instead of deadlocking.
_RECORD = text(
    f"""
WITH given AS (
    SELECT * FROM unnest(
        CAST(:ids AS uuid[]), CAST(:metrics AS text[]), CAST(:quantities AS bigint[]),
        CAST(:dedup_keys AS text[]), CAST(:event_times AS timestamptz[]),
        CAST(:distinct_values AS text[]), CAST(:record_times AS timestamptz[]),
        CAST(:period_starts AS timestamptz[])
    ) AS g(usage_record_id, metric, quantity, dedup_key, event_time, distinct_value,
           record_time, period_start)
),
inserted AS (
    INSERT INTO usage_records (usage_record_id, org_id, metric, quantity, dedup_key,
                               event_time, distinct_value, record_time)
    SELECT usage_record_id, :org_id, metric, quantity, dedup_key, event_time,
           distinct_value, record_time
    FROM given
    ORDER BY dedup_key
    ON CONFLICT (org_id, dedup_key) DO NOTHING
    RETURNING usage_record_id
),
new AS (
    SELECT g.* FROM given g JOIN inserted USING (usage_record_id)
),
new_values AS (
    INSERT INTO usage_aggregate_values (org_id, metric, period_start, distinct_value)
    SELECT DISTINCT :org_id, metric, period_start, distinct_value
    FROM new WHERE distinct_value <> ''
    ORDER BY metric, period_start, distinct_value
    ON CONFLICT DO NOTHING
    RETURNING metric, period_start
),
totals AS (
    INSERT INTO usage_aggregates AS a (
        org_id, metric, period_start, record_count, quantity_sum, quantity_max,
        quantity_min, unique_count, first_event_time, last_event_time, latest_event_time,
        latest_record_time, latest_usage_record_id, latest_quantity
    )
    SELECT :org_id, n.metric, n.period_start, count(*), sum(n.quantity), max(n.quantity),
        min(n.quantity),
        (SELECT count(*) FROM new_values v
         WHERE v.metric = n.metric AND v.period_start = n.period_start),
        min(n.event_time), max(n.event_time),
        (array_agg(n.event_time {_LATEST}))[1], (array_agg(n.record_time {_LATEST}))[1],
        (array_agg(n.usage_record_id {_LATEST}))[1], (array_agg(n.quantity {_LATEST}))[1]
    FROM new n
    GROUP BY n.metric, n.period_start
    ORDER BY n.metric, n.period_start
    ON CONFLICT (org_id, metric, period_start) DO UPDATE SET
        record_count = a.record_count + excluded.record_count,
        quantity_sum = a.quantity_sum + excluded.quantity_sum,
        quantity_max = greatest(a.quantity_max, excluded.quantity_max),
        quantity_min = least(a.quantity_min, excluded.quantity_min),
        unique_count = a.unique_count + excluded.unique_count,
        first_event_time = least(a.first_event_time, excluded.first_event_time),
        last_event_time = greatest(a.last_event_time, excluded.last_event_time),
        latest_event_time = CASE WHEN {_NEWER}
            THEN excluded.latest_event_time ELSE a.latest_event_time END,
        latest_record_time = CASE WHEN {_NEWER}
            THEN excluded.latest_record_time ELSE a.latest_record_time END,
        latest_usage_record_id = CASE WHEN {_NEWER}
            THEN excluded.latest_usage_record_id ELSE a.latest_usage_record_id END,
        latest_quantity = CASE WHEN {_NEWER}
            THEN excluded.latest_quantity ELSE a.latest_quantity END
    RETURNING 1
)
SELECT usage_record_id FROM inserted
"""
)


# Built once, the reads every RecordUsage runs: no statement construction per call, and
# SQLAlchemy keeps each one's cache key on it (about 0.1 ms a statement otherwise). The
# lists are expanding parameters: one statement whatever their length.
_BY_DEDUP_KEYS = select(usage_records).where(
    usage_records.c.org_id == bindparam("org_id"),
    usage_records.c.dedup_key.in_(bindparam("dedup_keys", expanding=True)),
)
_TOTALS_OVERLAPPING = select(usage_aggregates).where(
    usage_aggregates.c.org_id == bindparam("org_id"),
    usage_aggregates.c.last_event_time >= bindparam("start"),
    usage_aggregates.c.first_event_time < bindparam("end"),
)
_TOTALS_OVERLAPPING_OF = _TOTALS_OVERLAPPING.where(
    usage_aggregates.c.metric.in_(bindparam("metrics", expanding=True))
)


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


# The total a record dated `event_time` is rebuilt under: :before_key when dated before :at,
# else :at, or :end from then on (the period after).
_REBUILT_PERIOD = """CASE WHEN event_time < :at THEN CAST(:before_key AS timestamptz)
         WHEN event_time < :end THEN CAST(:at AS timestamptz)
         ELSE CAST(:end AS timestamptz) END"""

# Rebuilds the totals of one metric from its records dated from :lo on.
_REBUILD_TOTALS = text(
    f"""
INSERT INTO usage_aggregates (
    org_id, metric, period_start, record_count, quantity_sum, quantity_max, quantity_min,
    unique_count, first_event_time, last_event_time, latest_event_time,
    latest_record_time, latest_usage_record_id, latest_quantity
)
SELECT org_id, metric, period_start, count(*), sum(quantity), max(quantity), min(quantity),
    count(DISTINCT NULLIF(distinct_value, '')), min(event_time), max(event_time),
    (array_agg(event_time {_LATEST}))[1], (array_agg(record_time {_LATEST}))[1],
    (array_agg(usage_record_id {_LATEST}))[1], (array_agg(quantity {_LATEST}))[1]
FROM (
    SELECT *, {_REBUILT_PERIOD} AS period_start
    FROM usage_records
    WHERE org_id = :org_id AND metric = :metric AND event_time >= :lo
) AS bucketed
GROUP BY org_id, metric, period_start
"""
)
_REBUILD_VALUES = text(
    f"""
INSERT INTO usage_aggregate_values (org_id, metric, period_start, distinct_value)
SELECT DISTINCT org_id, metric, {_REBUILT_PERIOD}, distinct_value
FROM usage_records
WHERE org_id = :org_id AND metric = :metric AND event_time >= :lo AND distinct_value <> ''
"""
)


class UsageRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_many(
        self, records: Sequence[UsageRecord], period: TallyPeriod
    ) -> list[UsageRecord]:
        if not records:
            return []
        # One statement: the new records, then what only those moved (a duplicate key
        # inserts nothing, so it counts nowhere). The upsert of a total locks its row:
        # racing recorders of one metric add up one after the other.
        result = await self._conn.execute(
            _RECORD,
            {
                "org_id": records[0].org_id,
                "ids": [r.usage_record_id for r in records],
                "metrics": [r.metric for r in records],
                "quantities": [r.quantity for r in records],
                "dedup_keys": [r.dedup_key for r in records],
                "event_times": [r.event_time for r in records],
                "distinct_values": [r.distinct_value for r in records],
                "record_times": [r.record_time for r in records],
                "period_starts": [period.start_for(r.event_time) for r in records],
            },
        )
        inserted = {str(row.usage_record_id) for row in result}
        return [r for r in records if r.usage_record_id in inserted]

    async def split_totals(self, org_id: str, at: datetime, end: datetime) -> None:
        """Make the totals fit a period opened at `at` (ending at `end`) by an early close.

        Usage dated past the close instant (a client's clock a little ahead) was counted
        under the closed period: such a total straddles `at`, and summaries of the new
        period would have to read the records until it closes. Each straddling metric's
        totals are rebuilt from its records: every total reaching past `lo` is dropped, and
        the records from `lo` on (the earliest event of those) are counted again on each
        side of `at`. Called with the subscription locked, so no recorder races it.
        """
        a = usage_aggregates.c
        straddling = await self._conn.execute(
            select(a.metric, func.min(a.first_event_time))
            .where(a.org_id == org_id, a.first_event_time < at, a.last_event_time >= at)
            .group_by(a.metric)
        )
        for metric, lo in straddling.all():
            mine = (a.org_id == org_id, a.metric == metric)
            while True:  # every total with a record from `lo` on, and none left out
                earliest = await self._conn.scalar(
                    select(func.min(a.first_event_time)).where(*mine, a.last_event_time >= lo)
                )
                if earliest is None or earliest >= lo:
                    break
                lo = earliest
            dropped = [
                row.period_start
                for row in await self._conn.execute(
                    usage_aggregates.delete()
                    .where(*mine, a.last_event_time >= lo)
                    .returning(a.period_start)
                )
            ]
            v = usage_aggregate_values.c
            await self._conn.execute(
                usage_aggregate_values.delete().where(
                    v.org_id == org_id, v.metric == metric, v.period_start.in_(dropped)
                )
            )
            params = {
                "org_id": org_id,
                "metric": metric,
                "lo": lo,
                "at": at,
                "end": end,
                "before_key": min(dropped),
            }
            await self._conn.execute(_REBUILD_TOTALS, params)
            await self._conn.execute(_REBUILD_VALUES, params)

    async def get_by_dedup_key(self, org_id: str, dedup_key: str) -> UsageRecord | None:
        return (await self.get_by_dedup_keys(org_id, [dedup_key])).get(dedup_key)

    async def get_by_dedup_keys(
        self, org_id: str, dedup_keys: Sequence[str]
    ) -> dict[str, UsageRecord]:
        if not dedup_keys:
            return {}
        rows = await self._conn.execute(
            _BY_DEDUP_KEYS, {"org_id": org_id, "dedup_keys": sorted(set(dedup_keys))}
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

    async def summarize_aggregated(
        self,
        org_id: str,
        start: datetime,
        end: datetime,
        *,
        metrics: Sequence[str],
        aggregations: Mapping[str, Aggregation],
        fallback: Aggregation,
    ) -> list[MetricUsage]:
        """`summarize`, from the running totals: a metric whose totals all lie inside
        [start, end) adds them up; one with a total straddling a bound (or a unique count
        over several) is aggregated from its records."""
        params: dict[str, Any] = {"org_id": org_id, "start": start, "end": end}
        query = _TOTALS_OVERLAPPING
        if metrics:
            query, params["metrics"] = _TOTALS_OVERLAPPING_OF, list(metrics)
        totals: dict[str, list[Row[Any]]] = {}
        for row in await self._conn.execute(query, params):
            totals.setdefault(row.metric, []).append(row)
        names = sorted(set(metrics) | set(totals)) if metrics else sorted(totals)
        out: dict[str, MetricUsage] = {}
        exact = []
        for name in names:
            aggregation = aggregations.get(name, fallback)
            rows = totals.get(name, [])
            if _covered(rows, start, end, aggregation):
                out[name] = _combined(name, aggregation, rows)
            else:
                exact.append(name)
        if exact:
            found = await self.summarize(
                org_id, start, end, metrics=exact, aggregations=aggregations, fallback=fallback
            )
            # Asked for every metric: only those with records in the range, as summarize.
            out.update({m.metric: m for m in found if metrics or m.record_count})
        return [out[name] for name in sorted(out)]


def _covered(
    rows: Sequence[Row[Any]], start: datetime, end: datetime, aggregation: Aggregation
) -> bool:
    """Whether `rows` hold exactly the records of [start, end) their aggregation needs."""
    inside = all(start <= r.first_event_time and r.last_event_time < end for r in rows)
    # Distinct values seen under two period starts may be the same value.
    return inside and (aggregation is not Aggregation.UNIQUE_COUNT or len(rows) <= 1)


def _combined(metric: str, aggregation: Aggregation, rows: Sequence[Row[Any]]) -> MetricUsage:
    count = sum(int(r.record_count) for r in rows)
    total = sum(int(r.quantity_sum) for r in rows)
    if aggregation is Aggregation.SUM:
        value = total
    elif aggregation is Aggregation.COUNT:
        value = count
    elif aggregation is Aggregation.MAX:
        value = max((int(r.quantity_max) for r in rows), default=0)
    elif aggregation is Aggregation.MIN:
        value = min((int(r.quantity_min) for r in rows), default=0)
    elif aggregation is Aggregation.LATEST:
        latest = max(
            rows,
            key=lambda r: (r.latest_event_time, r.latest_record_time, r.latest_usage_record_id),
            default=None,
        )
        value = int(latest.latest_quantity) if latest is not None else 0
    elif aggregation is Aggregation.AVG:
        value = round(Fraction(total, count)) if count else 0
    else:
        value = sum(int(r.unique_count) for r in rows)
    return MetricUsage(metric, aggregation, value, count, total)
