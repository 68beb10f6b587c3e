"""Usage records and their aggregation per metric and period."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from billing.domain.pricing import Aggregation


@dataclass(frozen=True, slots=True)
class UsageRecord:
    usage_record_id: str
    org_id: str
    metric: str
    quantity: int
    dedup_key: str
    event_time: datetime
    record_time: datetime
    distinct_value: str = ""


@dataclass(frozen=True, slots=True)
class MetricUsage:
    metric: str
    aggregation: Aggregation
    value: int
    record_count: int


def aggregate(records: Iterable[UsageRecord], aggregation: Aggregation) -> tuple[int, int]:
    """(value, record count) of records by `aggregation`; the reference the SQL must match."""
    items = list(records)
    if aggregation is Aggregation.SUM:
        value = sum(r.quantity for r in items)
    elif aggregation is Aggregation.COUNT:
        value = len(items)
    elif aggregation is Aggregation.MAX:
        value = max((r.quantity for r in items), default=0)
    else:
        value = len({r.distinct_value for r in items if r.distinct_value})
    return value, len(items)
