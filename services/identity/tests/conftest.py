"""Migrated identity databases, copied per test from a template migrated once per session."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from identity.storage.tables import metadata
from keel_runtime.migrations import run_migrations

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def _url_for(postgres_url: str, name: str) -> str:
    base, _, _ = postgres_url.rpartition("/")
    return f"{base}/{name}"


def _drop(postgres_url: str, name: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def identity_template(postgres_url: str) -> Iterator[str]:
    """A database at the migrations' head; copying it is much cheaper than migrating."""
    name = f"identity_template_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        run_migrations(_url_for(postgres_url, name), MIGRATIONS, metadata)
        yield name
    finally:
        _drop(postgres_url, name)


@pytest.fixture
def migrated_database_url(
    postgres_url: str, identity_template: str, unique_name: str
) -> Iterator[str]:
    name = f"test_identity_{unique_name}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(identity_template)
            )
        )
    try:
        yield _url_for(postgres_url, name)
    finally:
        _drop(postgres_url, name)
