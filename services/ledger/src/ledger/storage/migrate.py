"""Run the ledger's Alembic migrations to head."""

from __future__ import annotations

from pathlib import Path

from keel_runtime.migrations import RuntimeGrants, run_migrations
from ledger.storage.tables import metadata

# services/ledger/migrations, next to src/ (the service runs from the repository checkout).
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def migrate(database_url: str) -> None:
    run_migrations(database_url, MIGRATIONS_DIR, metadata)


# The runtime role inserts entries and never changes them (the immutability trigger also
# refuses; without UPDATE/DELETE the role cannot even try).
RUNTIME_GRANTS = RuntimeGrants(append_only=("entries",))
