"""The mesh's PostgreSQL, tried as a process on the same host would: a service's runtime role
is refused in plaintext and served over verified TLS, and every service connects over TLS.

Only where the server's build has OpenSSL: the pgserver wheel's has not, so by default the
mesh's PostgreSQL is plaintext on 127.0.0.1 and these skip; with KEEL_PG_BIN naming a build
with OpenSSL (Debian's /usr/lib/postgresql/<major>/bin) they run.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from keel_devstack.roles import Login, login_url
from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e


@pytest.fixture
def tls_mesh(mesh: Endpoints) -> Endpoints:
    if "sslmode=verify-full" not in mesh.database_url:
        pytest.skip("the mesh's PostgreSQL build has no TLS (pgserver); set KEEL_PG_BIN")
    return mesh


def _runtime_url(mesh: Endpoints, service: str) -> str:
    role = f"keel_{service}_runtime"
    passwords = json.loads((Path(mesh.secrets) / "postgres-roles.json").read_text())
    return login_url(mesh.database_url, f"keel_{service}", Login(role, passwords[role]))


def test_a_runtime_role_is_refused_in_plaintext_and_served_over_tls(tls_mesh: Endpoints) -> None:
    url = _runtime_url(tls_mesh, "items")
    plaintext = url.partition("?")[0] + "?sslmode=disable"
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(plaintext).close()
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    assert row == (True,)


def test_every_service_connects_over_tls(tls_mesh: Endpoints) -> None:
    with psycopg.connect(tls_mesh.database_url) as conn:
        rows = conn.execute(
            "SELECT a.usename, bool_and(s.ssl) FROM pg_stat_activity a"
            " JOIN pg_stat_ssl s USING (pid) WHERE a.usename LIKE 'keel\\_%%' GROUP BY 1"
        ).fetchall()
    assert dict(rows) == {
        f"keel_{service}_runtime": True for service in ("identity", "ledger", "items", "billing")
    }
