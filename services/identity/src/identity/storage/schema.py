"""The identity database schema: migrations, tables and the runtime role's privileges."""

from __future__ import annotations

from pathlib import Path

from identity.storage.tables import metadata
from keel_runtime.migrations import Schema

# services/identity/migrations, next to src/ (the service runs from the repository checkout).
SCHEMA = Schema(Path(__file__).resolve().parents[3] / "migrations", metadata)
