"""Alembic environment of the items database."""

from items.storage.tables import metadata
from keel_runtime.migrations import run_env

run_env(metadata)
