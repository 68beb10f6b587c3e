"""The migrations build exactly the schema the tables declare, unwind cleanly, and carry
existing rows over."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from billing.domain.pricing import Aggregation
from billing.storage.schema import SCHEMA
from billing.storage.tables import metadata
from billing.storage.uow import SqlUnitOfWork
from keel_runtime.db import create_engine
from keel_runtime.migrations import run_migrations
from keel_runtime.tenancy import acting_for
from keel_runtime.testing import assert_migrations_round_trip

from ..unit.conftest import FakeClock

pytestmark = pytest.mark.integration


@pytest.fixture
def database_template() -> None:
    """These tests run the migrations themselves, from an empty database."""
    return None


async def test_upgrade_matches_metadata_and_downgrade_unwinds(database_url: str) -> None:
    await assert_migrations_round_trip(
        database_url,
        SCHEMA.migrations,
        metadata,
        {"plans", "subscriptions", "invoices", "webhook_deliveries", "outbox"},
    )


@contextmanager
def acting_for_org(database_url: str, org: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection of the owner acting for ``org``: row-level security is FORCEd on the
    owner too (migration 0006)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT set_config('keel.org_id', %s, false)", (org,))
        yield conn


# (metric, quantity, hours from the open period's start, distinct value): before it (an
# invoiced period), in it (ties on event time included), and past its end.
EXISTING = [
    ("calls", 4, -30 * 24, "u1"),
    ("calls", 6, -1, "u2"),
    ("calls", 5, 1, "u1"),
    ("calls", 2, 1, "u3"),
    ("calls", 9, 2, ""),
    ("calls", 1, 3, "u1"),
    ("seats", 3, 5, ""),
    ("calls", 8, 31 * 24, "u4"),
]


async def test_existing_usage_is_folded_into_the_running_totals(database_url: str) -> None:
    run_migrations(database_url, SCHEMA.migrations, metadata, revision="0007")
    subscribed, unsubscribed = str(uuid.uuid4()), str(uuid.uuid4())
    start = datetime(2026, 11, 10, 8, tzinfo=UTC)
    end = datetime(2026, 12, 10, 8, tzinfo=UTC)
    with acting_for_org(database_url, subscribed) as conn:
        conn.execute(
            "INSERT INTO subscriptions (subscription_id, org_id, plan_id, state, anchor,"
            " current_period_start, current_period_end, create_time)"
            " VALUES (gen_random_uuid(), %s, 'free', 'active', %s, %s, %s, %s)",
            (subscribed, start, start, end, start),
        )
    for org in (subscribed, unsubscribed):
        with acting_for_org(database_url, org) as conn:
            for i, (metric, quantity, hours, value) in enumerate(EXISTING):
                conn.execute(
                    "INSERT INTO usage_records (usage_record_id, org_id, metric, quantity,"
                    " dedup_key, event_time, distinct_value, record_time)"
                    " VALUES (gen_random_uuid(), %s, %s, %s, %s, %s, %s, %s)",
                    (org, metric, quantity, f"k{i}", start + timedelta(hours=hours), value, end),
                )
    run_migrations(database_url, SCHEMA.migrations, metadata)

    engine = create_engine(database_url, pool_size=1)
    try:
        for org in (subscribed, unsubscribed):
            with acting_for(org):
                async with SqlUnitOfWork(engine, FakeClock()) as uow:
                    for lo, hi in (
                        (start, end),
                        (start - timedelta(days=40), end + timedelta(days=40)),
                    ):
                        for aggregation in Aggregation:
                            assert await uow.usage.summarize_aggregated(
                                org, lo, hi, metrics=(), aggregations={}, fallback=aggregation
                            ) == await uow.usage.summarize(
                                org, lo, hi, metrics=(), aggregations={}, fallback=aggregation
                            )
        with acting_for_org(database_url, subscribed) as conn:
            rows = conn.execute(
                "SELECT metric, period_start, record_count, quantity_sum, unique_count,"
                " latest_quantity FROM usage_aggregates ORDER BY period_start, metric"
            ).fetchall()
            values = conn.execute(
                "SELECT period_start, distinct_value FROM usage_aggregate_values"
                " ORDER BY period_start, distinct_value"
            ).fetchall()
    finally:
        await engine.dispose()
    october, november = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    # The open period's records under its start, those past its end under the end; older
    # ones under their month.
    assert rows == [
        ("calls", october, 1, 4, 1, 4),
        ("calls", november, 1, 6, 1, 6),
        ("calls", start, 4, 17, 2, 1),
        ("seats", start, 1, 3, 0, 3),
        ("calls", end, 1, 8, 1, 8),
    ]
    assert values == [
        (october, "u1"),
        (november, "u2"),
        (start, "u1"),
        (start, "u3"),
        (end, "u4"),
    ]
