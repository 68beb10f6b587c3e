"""Alembic environment of the identity database."""

from identity.storage.tables import metadata
from keel_runtime.migrations import run_env

run_env(metadata)
