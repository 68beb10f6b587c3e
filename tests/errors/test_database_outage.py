"""A database that cannot be reached is UNAVAILABLE with a retry hint, not INTERNAL: standard
retry policies then retry it, and the service answers again once the database is back."""

from __future__ import annotations

import uuid

import grpc
import psycopg
import pytest
from errors_support import Identity, unpack_details
from keel.identity.v1 import organization_service_pb2
from psycopg import sql


def set_connections(admin_url: str, database_url: str, *, allowed: bool) -> None:
    """Let the database accept connections or not; refusing also ends those it has."""
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


def sign_up() -> organization_service_pb2.CreateOrganizationRequest:
    return organization_service_pb2.CreateOrganizationRequest(
        request_id=str(uuid.uuid4()),
        display_name="Acme",
        owner_email=f"owner-{uuid.uuid4().hex[:8]}@example.com",
        owner_password="correct horse battery staple",
    )


async def test_sign_up_while_the_database_is_down_is_unavailable(
    identity: Identity, postgres_url: str
) -> None:
    create = identity.organizations.CreateOrganization
    await create(sign_up(), timeout=10)  # the pool holds an open connection now
    set_connections(postgres_url, identity.database_url, allowed=False)
    try:
        # First on the terminated pooled connection, then on connections refused.
        for _ in range(2):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await create(sign_up(), metadata=(("x-request-id", "outage-1"),), timeout=20)
            error = caught.value
            assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())
            details = unpack_details(error)
            assert details["ErrorInfo"].reason == "DATABASE_UNAVAILABLE"
            assert details["ErrorInfo"].domain == "identity.keel"
            assert details["RetryInfo"].retry_delay.ToTimedelta().total_seconds() > 0
            assert details["RequestInfo"].request_id == "outage-1"
    finally:
        set_connections(postgres_url, identity.database_url, allowed=True)
    answer = await create(sign_up(), timeout=10)
    assert answer.organization.organization_id
