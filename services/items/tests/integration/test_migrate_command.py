"""`python -m items migrate` with external URLs: the owner migrates and grants the runtime
role; a role without the rights gets the statements an operator must apply."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from sqlalchemy import make_url

pytestmark = pytest.mark.integration


def migrate(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if "DATABASE" not in k}
    return subprocess.run(
        [sys.executable, "-m", "items", "migrate"],
        env={**clean, "LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_role_that_cannot_create_tables_is_told_what_to_apply(
    runtime_database_url: str,
) -> None:
    runtime = make_url(runtime_database_url)
    done = migrate(DATABASE_URL=runtime_database_url)
    assert done.returncode == 1, done.stderr
    assert f'role "{runtime.username}" lacks rights to migrate database "{runtime.database}"' in (
        done.stderr
    )
    assert "An operator must apply, as a superuser:" in done.stderr
    assert f'GRANT CREATE ON SCHEMA public TO "{runtime.username}";' in done.stderr
    assert runtime.password not in done.stderr  # the password is never printed
    assert "Traceback" not in done.stderr


def test_a_missing_runtime_role_is_reported_with_its_create_statement(database_url: str) -> None:
    done = migrate(
        MIGRATION_DATABASE_URL=database_url,
        DATABASE_URL=database_url,
        DATABASE_RUNTIME_ROLE="items_runtime_missing",
    )
    assert done.returncode == 1
    assert 'CREATE ROLE "items_runtime_missing" LOGIN NOINHERIT NOSUPERUSER' in done.stderr


def test_the_owner_migrates_and_the_runtime_role_gets_rows_only(
    database_url: str, runtime_database_url: str
) -> None:
    done = migrate(MIGRATION_DATABASE_URL=database_url, DATABASE_URL=runtime_database_url)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(runtime_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE spy (id int)")
