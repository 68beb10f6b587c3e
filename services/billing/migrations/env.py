"""Alembic environment of the billing database."""

from billing.storage.tables import metadata
from keel_runtime.migrations import run_env

run_env(metadata)
