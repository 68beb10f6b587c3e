"""Alembic environment of the ledger database."""

from keel_runtime.migrations import run_env
from ledger.storage.tables import metadata

run_env(metadata)
