"""The migrations build exactly the schema the tables declare, and unwind cleanly."""

from __future__ import annotations

import pytest

from billing.storage.schema import SCHEMA
from billing.storage.tables import metadata
from keel_runtime.testing import assert_migrations_round_trip

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
