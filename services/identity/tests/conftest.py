"""Migrated identity databases, copied per test from a template migrated once per session.

The template is migrated by the owner role, which grants the runtime role its privileges;
the tests (and the servers they start) connect as the runtime role, as the service does.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from identity.storage.schema import SCHEMA
from keel_devstack.roles import ServiceRoles, login_url


def _drop(postgres_url: str, name: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _create(postgres_url: str, name: str, owner: str, template: str | None = None) -> None:
    statement = sql.SQL("CREATE DATABASE {} OWNER {}").format(
        sql.Identifier(name), sql.Identifier(owner)
    )
    if template:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(statement)


@pytest.fixture(scope="session")
def identity_template(postgres_url: str, database_roles: ServiceRoles) -> Iterator[str]:
    """A database at the migrations' head; copying it is much cheaper than migrating."""
    name = f"identity_template_{secrets.token_hex(4)}"
    _create(postgres_url, name, database_roles.owner.role)
    try:
        SCHEMA.migrate_and_grant(
            login_url(postgres_url, name, database_roles.owner),
            login_url(postgres_url, name, database_roles.runtime),
        )
        yield name
    finally:
        _drop(postgres_url, name)


@pytest.fixture
def migrated_database_url(
    postgres_url: str, database_roles: ServiceRoles, identity_template: str, unique_name: str
) -> Iterator[str]:
    """A migrated database of its own, as the runtime role."""
    name = f"test_identity_{unique_name}"
    _create(postgres_url, name, database_roles.owner.role, identity_template)
    try:
        yield login_url(postgres_url, name, database_roles.runtime)
    finally:
        _drop(postgres_url, name)
