"""Run billing's Alembic migrations to head (used by `python -m billing migrate` and tests)."""

from __future__ import annotations

from pathlib import Path

from billing.storage.tables import metadata
from keel_runtime.migrations import run_migrations

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


def migrate(database_url: str) -> None:
    run_migrations(database_url, MIGRATIONS, metadata)
