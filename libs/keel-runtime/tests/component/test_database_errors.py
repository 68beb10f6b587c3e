"""Database failures through a real server and real PostgreSQL: what the caller gets and what
the log keeps."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
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
