"""The ledger database schema: migrations, tables and the runtime role's privileges."""

from __future__ import annotations

from pathlib import Path

from keel_runtime.migrations import RuntimeGrants, Schema
from ledger.storage.tables import metadata

SCHEMA = Schema(
    # services/ledger/migrations, next to src/ (the service runs from the repository checkout).
    Path(__file__).resolve().parents[3] / "migrations",
    metadata,
    # The runtime role inserts entries and never changes them (the immutability trigger also
    # refuses; without UPDATE/DELETE the role cannot even try).
    RuntimeGrants(append_only=("entries",)),
)
