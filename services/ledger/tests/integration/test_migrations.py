"""Migrations build exactly the schema the tables module describes, and carry data over."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from keel_runtime.db import create_engine
from keel_runtime.migrations import run_migrations
from keel_runtime.testing import assert_migrations_round_trip, schema_drift
from ledger.storage.schema import SCHEMA
from ledger.storage.tables import metadata

pytestmark = pytest.mark.integration


@pytest.fixture
def database_template() -> None:
    """These tests run the migrations themselves, from an empty database."""
    return None


@contextmanager
def acting_for_org(database_url: str, org: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection of the owner acting for ``org``: row-level security is FORCEd on the
    owner too (migration 0007), so rows written before it are read as their organization."""
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT set_config('keel.org_id', %s, false)", (org,))
        yield conn


async def test_schema_matches_tables(database_url: str) -> None:
    await SCHEMA.migrate_async(database_url)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_drift, metadata) == []
    finally:
        await engine.dispose()


async def test_upgrade_matches_metadata_and_downgrade_unwinds(database_url: str) -> None:
    await assert_migrations_round_trip(
        database_url,
        SCHEMA.migrations,
        metadata,
        {"accounts", "balances", "transactions", "entries", "checkpoints", "outbox"},
    )


def test_request_scopes_of_existing_transactions(database_url: str) -> None:
    """Rows written before request ids were scoped get the scope their creator has now."""
    run_migrations(database_url, SCHEMA.migrations, metadata, revision="0002")
    org = str(uuid.uuid4())
    rows = {
        "member": ("STANDARD", "{}"),
        "billing": ("STANDARD", '{"source": "billing"}'),
        "sweeper": ("EXPIRE_PENDING", "{}"),
    }
    with psycopg.connect(database_url, autocommit=True) as conn:
        for request_id, (kind, meta) in rows.items():
            conn.execute(
                "INSERT INTO transactions (id, org_id, request_id, fingerprint, kind, state,"
                " postings, metadata, created_at)"
                " VALUES (gen_random_uuid(), %s, %s, '', %s, 'POSTED', '[]', %s, now())",
                (org, request_id, kind, meta),
            )
    run_migrations(database_url, SCHEMA.migrations, metadata)
    with acting_for_org(database_url, org) as conn:
        scopes = dict(conn.execute("SELECT request_id, scope FROM transactions").fetchall())
    assert scopes == {
        "member": f"org:{org}",
        "billing": f"org:{org}/service:billing",
        "sweeper": f"org:{org}/service:ledger",
    }


def test_request_scopes_of_existing_accounts(database_url: str) -> None:
    run_migrations(database_url, SCHEMA.migrations, metadata, revision="0003")
    org = str(uuid.uuid4())
    rows = {"": "{}", "mine": "{}", "billing-revenue-USD": '{"owner": "billing"}'}
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO assets (code, scale) VALUES ('USD', 2)")
        for request_id, meta in rows.items():
            conn.execute(
                "INSERT INTO accounts (id, org_id, kind, asset_code, bound, metadata, request_id,"
                " created_at) VALUES (gen_random_uuid(), %s, 'FUNDING', 'USD', 'NONE', %s, %s,"
                " now())",
                (org, meta, request_id),
            )
    run_migrations(database_url, SCHEMA.migrations, metadata)
    with acting_for_org(database_url, org) as conn:
        scopes = dict(conn.execute("SELECT request_id, scope FROM accounts").fetchall())
    assert scopes == {
        "": "",
        "mine": f"org:{org}",
        "billing-revenue-USD": f"org:{org}/service:billing",
    }
