"""Service database roles: SCRAM passwords kept in a 0600 file, no trust but the admin's."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import psycopg
import pytest

from keel_devstack.datakeys import checkpoint_key, data_keys
from keel_devstack.roles import (
    Login,
    drop_roles,
    ensure_database,
    ensure_roles,
    login_url,
    roles_for,
)
from keel_runtime.sealing import Keyring


def test_passwords_are_generated_once_into_a_private_file(scratch: Path) -> None:
    path = scratch / "secrets" / "roles.json"
    first = roles_for("keel_items", path)
    assert (first.owner.role, first.runtime.role) == ("keel_items_owner", "keel_items_runtime")
    assert first.owner.password != first.runtime.password
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert roles_for("keel_items", path) == first  # the next run reuses them


def test_the_data_key_is_generated_once_into_a_private_file(scratch: Path) -> None:
    path = scratch / "secrets" / "data-keys"
    value = data_keys(path)
    assert Keyring.parse(value).current_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert data_keys(path) == value


def test_the_ledger_checkpoint_key_is_generated_once_into_a_private_file(scratch: Path) -> None:
    path = scratch / "secrets" / "ledger-checkpoint-key"
    value = checkpoint_key(path)
    assert len(base64.b64decode(value, validate=True)) == 32  # what the ledger requires
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert checkpoint_key(path) == value  # the next run verifies this run's checkpoints


def test_roles_log_in_with_their_password_only(
    postgres_url: str, scratch: Path, unique_name: str
) -> None:
    roles = roles_for(f"t{unique_name}", scratch / "roles.json")
    ensure_roles(postgres_url, roles)
    database = f"roles_{unique_name}"
    ensure_database(postgres_url, database, roles.owner.role)
    try:
        with psycopg.connect(login_url(postgres_url, database, roles.runtime)) as conn:
            row = conn.execute(
                "SELECT rolsuper, rolinherit, rolbypassrls, rolcreaterole, rolcreatedb"
                " FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            assert row is not None and row[:5] == (False, False, False, False, False)
        wrong = Login(roles.runtime.role, "not-the-password")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(login_url(postgres_url, database, wrong)).close()
        no_password = login_url(postgres_url, database, roles.runtime).replace(
            f":{roles.runtime.password}@", "@"
        )
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(no_password).close()
        with psycopg.connect(postgres_url) as admin:
            verifier = admin.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (roles.runtime.role,)
            ).fetchone()
        assert verifier is not None and verifier[0].startswith("SCRAM-SHA-256$")
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        drop_roles(postgres_url, roles)


def test_a_database_made_before_the_roles_is_handed_over_to_the_owner(
    postgres_url: str, scratch: Path, unique_name: str
) -> None:
    roles = roles_for(f"t{unique_name}", scratch / "roles.json")
    ensure_roles(postgres_url, roles)
    database = f"legacy_{unique_name}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        # What an earlier `make run` left: objects the superuser created.
        legacy = login_url(postgres_url, database, roles.owner).replace(
            f"{roles.owner.role}:{roles.owner.password}@", "postgres@"
        )
        with psycopg.connect(legacy, autocommit=True) as conn:
            conn.execute("CREATE TABLE widgets (id serial PRIMARY KEY)")
            conn.execute("CREATE SEQUENCE loose_counter")
            conn.execute("CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'")
        ensure_database(postgres_url, database, roles.owner.role)
        ensure_database(postgres_url, database, roles.owner.role)  # idempotent
        with psycopg.connect(login_url(postgres_url, database, roles.owner)) as conn:
            conn.execute("ALTER TABLE widgets ADD COLUMN name text")
            conn.execute("ALTER SEQUENCE loose_counter RESTART")
            conn.execute("ALTER FUNCTION answer() RENAME TO answer_v2")
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        drop_roles(postgres_url, roles)
