"""The embedded PostgreSQL with the stack's certificates: TLS only, where the build allows.

The `pgserver` wheel's PostgreSQL has no OpenSSL, so with it the server stays plaintext on
127.0.0.1 (and says so in its URL). A build with OpenSSL (`KEEL_PG_BIN`; Debian's packages
on these machines) takes TLS connections only: a service's runtime role is refused in
plaintext, before its password is asked for, and gets in over verified TLS.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from keel_devstack import postgres
from keel_devstack.certs import MeshCertificates
from keel_devstack.postgres import Postgres, start_postgres, supports_tls
from keel_devstack.roles import ServiceRoles, ensure_roles, login_url, roles_for


def _openssl_build() -> Path | None:
    """The bin/ of a PostgreSQL built with OpenSSL: KEEL_PG_BIN, else Debian's newest."""
    given = os.environ.get("KEEL_PG_BIN")
    candidates = [given] if given else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and supports_tls(Path(candidate).resolve().parent):
            return Path(candidate)
    return None


def _plaintext(url: str) -> str:
    return url.partition("?")[0] + "?sslmode=disable"


def test_the_wheels_build_has_no_tls_so_the_server_stays_plaintext(
    tmp_path: Path, mesh_certs: MeshCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEEL_PG_BIN", raising=False)
    assert not supports_tls(postgres.wheel_install())
    tmp_path.chmod(0o755)  # under root the server's own user must reach its data
    server = start_postgres(tmp_path / "pg", tls=mesh_certs["postgres"])
    try:
        assert server.tls_ca is None
        assert "sslmode" not in server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, mesh_certs: MeshCertificates
) -> Iterator[Postgres]:
    build = _openssl_build()
    if build is None:
        pytest.skip("needs a PostgreSQL built with OpenSSL (KEEL_PG_BIN)")
    root = tmp_path_factory.mktemp("pg-tls")
    root.chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KEEL_PG_BIN", str(build))
        server = start_postgres(root / "pg", tls=mesh_certs["postgres"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def roles(tls_server: Postgres, tmp_path_factory: pytest.TempPathFactory) -> ServiceRoles:
    made = roles_for("keel_tls", tmp_path_factory.mktemp("roles") / "roles.json")
    ensure_roles(tls_server.url, made)
    return made


def test_the_server_is_reached_over_verified_tls_only(
    tls_server: Postgres, mesh_certs: MeshCertificates
) -> None:
    assert tls_server.tls_ca == mesh_certs.ca_file
    assert "sslmode=verify-full&sslrootcert=" in tls_server.url


def test_a_runtime_role_is_refused_in_plaintext_and_served_over_tls(
    tls_server: Postgres, roles: ServiceRoles
) -> None:
    url = login_url(tls_server.url, "postgres", roles.runtime)
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(_plaintext(url)).close()
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    assert row == (True,)


def test_the_administrator_is_refused_in_plaintext_too(tls_server: Postgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(_plaintext(tls_server.url)).close()


def test_a_client_refuses_a_server_its_ca_did_not_sign(
    tls_server: Postgres, roles: ServiceRoles, foreign_certs: MeshCertificates
) -> None:
    url = login_url(tls_server.url, "postgres", roles.runtime)
    impostor_check = url.partition("?")[0] + (
        f"?sslmode=verify-full&sslrootcert={foreign_certs.ca_file}"
    )
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(impostor_check).close()
