"""A service whose database is down answers 503 with a retry hint through the gateway."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest
from e2e_support import ERROR_INFO, Tenant, assert_status_error, detail, request_id, wait_for
from psycopg import sql

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def _set_connections(admin_url: str, database_url: str, *, allowed: bool) -> None:
    """Let a database accept connections or not; refusing also ends those it has."""
    name = database_url.rpartition("/")[2].partition("?")[0]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.Literal(allowed)
            )
        )
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


@pytest.fixture
def items_database_down(mesh: Endpoints, gateway: httpx.Client, tenant: Tenant) -> Iterator[None]:
    """The items database refuses connections for the test, then serves items again."""
    _set_connections(mesh.database_url, mesh.databases["items"], allowed=False)
    try:
        yield
    finally:
        _set_connections(mesh.database_url, mesh.databases["items"], allowed=True)

        def answering() -> bool | None:
            response = gateway.post("/v1/items", json={"note": "back"}, headers=tenant.auth)
            return True if response.status_code == 200 else None

        wait_for(answering, "items answering again after its database returned")


@pytest.mark.usefixtures("items_database_down")
def test_database_down_is_503_with_retry_info(gateway: httpx.Client, tenant: Tenant) -> None:
    rid = request_id()
    response = gateway.post(
        "/v1/items", json={"note": "while down"}, headers={**tenant.auth, "x-request-id": rid}
    )
    body = assert_status_error(
        response, http_status=503, code=14, reason="DATABASE_UNAVAILABLE", request_id=rid
    )
    assert detail(body, ERROR_INFO)["domain"] == "items.keel"
    assert detail(body, RETRY_INFO)["retryDelay"] == "1s"
