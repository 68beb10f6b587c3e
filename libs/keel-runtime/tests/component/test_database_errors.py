"""Database failures through a real server and real PostgreSQL: what the caller gets and what
the log keeps."""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import nats
import psycopg
import psycopg.sql
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime.db import UnitOfWork, create_engine
from keel_runtime.logging import JsonFormatter


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


def run_sql(engine: AsyncEngine, statement: str, **params: Any) -> Any:
    """A servicer behaviour running one statement in a unit of work."""

    async def behaviour(request: Any, ctx: Any) -> Any:
        async with UnitOfWork(engine) as uow:
            await uow.connection.execute(text(statement), params)
        raise AssertionError("the statement was expected to fail")

    return behaviour


def answering_after_sql(engine: AsyncEngine, statement: str, kit: Any) -> Any:
    """A servicer behaviour that runs one statement, then answers."""

    async def behaviour(request: Any, ctx: Any) -> Any:
        async with UnitOfWork(engine) as uow:
            await uow.connection.execute(text(statement))
        return kit.EchoResponse(note="done")

    return behaviour


def service_log(records: list[logging.LogRecord]) -> str:
    """The records as the service writes them (JSON lines)."""
    formatter = JsonFormatter("probe")
    return "\n".join(formatter.format(record) for record in records)


async def test_driver_error_log_has_its_type_and_statement_but_no_value(
    start_probe: Any, kit: Any, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    secret = f"whsec_{secrets.token_hex(12)}"
    # PostgreSQL quotes the value it cannot cast; SQLAlchemy would add the parameters.
    behaviour = run_sql(engine, "SELECT CAST(:signing_key AS integer)", signing_key=secret)
    probe = await start_probe(kit.ProbeServicer(echo=behaviour))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await probe.echo()(kit.valid_request(), metadata=(("x-request-id", "db-1"), *kit.AUTH))
    assert caught.value.code() == grpc.StatusCode.INTERNAL

    log = service_log(caplog.records)
    assert secret not in log
    [logged] = [r for r in caplog.records if r.name == "keel.errors"]
    fields = logged.__dict__
    assert fields["error_type"] == "sqlalchemy.exc.DataError"
    assert fields["sqlstate"] == "22P02"
    assert fields["statement"] == "SELECT CAST(%(signing_key)s AS integer)"
    assert "psycopg.errors.InvalidTextRepresentation: [message redacted]" in fields["traceback"]
    assert '"request_id":"db-1"' in log


async def test_engines_never_render_parameters(engine: AsyncEngine) -> None:
    secret = f"whsec_{secrets.token_hex(12)}"
    with pytest.raises(Exception) as caught:
        async with engine.connect() as conn:
            await conn.execute(
                text("SELECT CAST(:signing_key AS integer)"), {"signing_key": secret}
            )
    assert "parameters hidden" in str(caught.value)
    assert f"'signing_key': '{secret}'" not in str(caught.value)


# --- Outages: a dependency that cannot be reached is UNAVAILABLE with a retry hint -------


def decoded_details(error: grpc.aio.AioRpcError) -> dict[str, Any]:
    status = rpc_status.from_call(error)
    assert status is not None, "no google.rpc.Status in trailing metadata"
    found: dict[str, Any] = {}
    for packed in status.details:
        for cls in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.RetryInfo,
            error_details_pb2.RequestInfo,
        ):
            if packed.Is(cls.DESCRIPTOR):
                found[cls.DESCRIPTOR.name] = cls()
                packed.Unpack(found[cls.DESCRIPTOR.name])
    return found


async def call(probe: Any, kit: Any) -> grpc.aio.AioRpcError | None:
    """One Echo; the error it failed with, or None when it succeeded."""
    try:
        await probe.echo()(kit.valid_request(), metadata=kit.AUTH, timeout=20)
    except grpc.aio.AioRpcError as error:
        return error
    return None


def assert_unavailable(error: grpc.aio.AioRpcError | None, reason: str) -> None:
    assert error is not None, "the call succeeded"
    assert error.code() == grpc.StatusCode.UNAVAILABLE, (error.code(), error.details())
    details = decoded_details(error)
    assert details["ErrorInfo"].reason == reason
    assert details["RetryInfo"].retry_delay.ToTimedelta().total_seconds() > 0
    assert "127.0.0.1" not in (error.details() or "")  # nothing of the failure leaks


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connecting to it is refused, every time."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_unreachable_database_is_unavailable_with_a_retry_hint(
    start_probe: Any, kit: Any, closed_port: int
) -> None:
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{closed_port}/keel", pool_size=1)
    try:
        probe = await start_probe(kit.ProbeServicer(echo=run_sql(engine, "SELECT 1")))
        assert_unavailable(await call(probe, kit), "DATABASE_UNAVAILABLE")
    finally:
        await engine.dispose()


def set_connections(admin_url: str, database_url: str, *, allowed: bool) -> None:
    """Let a database accept connections or not; refusing also ends those it has."""
    name = database_url.rpartition("/")[2].partition("?")[0]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                psycopg.sql.Identifier(name), psycopg.sql.Literal(allowed)
            )
        )
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


async def test_database_going_away_is_unavailable_until_it_returns(
    start_probe: Any, kit: Any, engine: AsyncEngine, postgres_url: str, database_url: str
) -> None:
    probe = await start_probe(kit.ProbeServicer(echo=answering_after_sql(engine, "SELECT 1", kit)))
    assert await call(probe, kit) is None  # a pooled connection, now open
    set_connections(postgres_url, database_url, allowed=False)
    try:
        # The pooled connection was terminated; then new connections are refused.
        assert_unavailable(await call(probe, kit), "DATABASE_UNAVAILABLE")
        assert_unavailable(await call(probe, kit), "DATABASE_UNAVAILABLE")
    finally:
        set_connections(postgres_url, database_url, allowed=True)
    assert await call(probe, kit) is None


async def test_a_bug_in_sql_is_still_internal(
    start_probe: Any, kit: Any, engine: AsyncEngine
) -> None:
    probe = await start_probe(kit.ProbeServicer(echo=run_sql(engine, "SELECT * FROM no_such")))
    error = await call(probe, kit)
    assert error is not None and error.code() == grpc.StatusCode.INTERNAL
    assert "RetryInfo" not in decoded_details(error)


async def test_unreachable_broker_is_unavailable(start_probe: Any, kit: Any, nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    await nc.close()  # the broker is gone for this client: publishing fails at once

    async def publishing(request: Any, ctx: Any) -> Any:
        await nc.publish("keel.probe", b"event")
        return kit.context_response("sent")

    probe = await start_probe(kit.ProbeServicer(echo=publishing))
    assert_unavailable(await call(probe, kit), "BROKER_UNAVAILABLE")
