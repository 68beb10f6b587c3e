"""Crossing organizations only through the owner's SECURITY DEFINER functions.

A table under FORCEd row-level security, a cross-organization function over it made as the
owner, the runtime role granted as ``grant_runtime`` grants it: the function reaches every
organization, the runtime role's own queries reach one, the owner's own sessions one too,
and the platform scope ('*') is refused by a policy that does not admit it.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import make_url

from keel_runtime.migrations import (
    cross_org_function_statements,
    cross_org_policy_statements,
    grant_runtime,
    tenant_rls_statements,
)

pytestmark = pytest.mark.integration

FUNCTION = "orgs_with_notes(min_len integer)"


@pytest.fixture
def schema(database_url: str, runtime_database_url: str) -> Iterator[None]:
    statements = [
        "CREATE TABLE notes (id serial PRIMARY KEY, org_id text NOT NULL, body text NOT NULL)",
        *tenant_rls_statements("notes", "org_id", "text"),
        *cross_org_policy_statements("notes", "SELECT"),
        *cross_org_function_statements(
            FUNCTION,
            "SETOF text",
            "SELECT DISTINCT org_id FROM notes WHERE length(body) >= min_len ORDER BY 1",
        ),
    ]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
        for org in ("org-a", "org-b"):
            conn.execute("SELECT set_config('keel.org_id', %s, false)", (org,))
            conn.execute("INSERT INTO notes (org_id, body) VALUES (%s, 'a note')", (org,))
    grant_runtime(database_url, make_url(runtime_database_url).username or "")
    yield


def acting(url: str, org: str) -> psycopg.Connection[tuple[object, ...]]:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SELECT set_config('keel.org_id', %s, false)", (org,))
    return conn


def test_the_function_crosses_organizations_and_nothing_else_does(
    schema: None, database_url: str, runtime_database_url: str
) -> None:
    with acting(runtime_database_url, "org-a") as conn:
        found = [r[0] for r in conn.execute("SELECT * FROM orgs_with_notes(1)")]
        own = [r[0] for r in conn.execute("SELECT org_id FROM notes")]
    assert found == ["org-a", "org-b"]
    assert own == ["org-a"]
    # The owner's own sessions are held by FORCE: only functions called by another role cross.
    with acting(database_url, "org-a") as conn:
        assert [r[0] for r in conn.execute("SELECT org_id FROM notes")] == ["org-a"]
        assert [r[0] for r in conn.execute("SELECT * FROM orgs_with_notes(1)")] == ["org-a"]


def test_the_platform_scope_is_refused_where_no_policy_admits_it(
    schema: None, runtime_database_url: str
) -> None:
    with acting(runtime_database_url, "*") as conn:
        assert conn.execute("SELECT count(*) FROM notes").fetchone() == (0,)


def test_nobody_but_the_runtime_role_may_call_the_function(
    schema: None, database_url: str, runtime_database_url: str
) -> None:
    with psycopg.connect(database_url) as conn:
        grantees = conn.execute(
            "SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END"
            " FROM pg_proc p, aclexplode(p.proacl) a"
            " WHERE p.proname = 'orgs_with_notes' AND a.privilege_type = 'EXECUTE'"
            " AND a.grantee <> p.proowner"
        ).fetchall()
    assert grantees == [(make_url(runtime_database_url).username,)]
