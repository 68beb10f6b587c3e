"""The organization a unit of work acts for, as PostgreSQL sees it (``keel.org_id``)."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

import pytest
from psycopg import pq
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime import context
from keel_runtime.context import Principal
from keel_runtime.db import PLATFORM, UnitOfWork, acting_for, create_engine, current_tenant
from keel_runtime.tenancy import driver_connection

pytestmark = pytest.mark.integration

SETTING = text("SELECT current_setting('keel.org_id', true)")


async def acting(engine: AsyncEngine, **kw: Any) -> str | None:
    async with UnitOfWork(engine, **kw) as uow:
        return await uow.connection.scalar(SETTING)


async def test_the_verified_principal_sets_the_organization(engine: AsyncEngine) -> None:
    with context.bound(principal=Principal(subject="u1", org_id="org-of-the-caller")):
        assert await acting(engine) == "org-of-the-caller"


async def test_platform_work_names_its_organization(engine: AsyncEngine) -> None:
    with context.bound(principal=Principal(subject="svc", org_id="org-a", kind="service")):
        with acting_for("org-b"):
            assert await acting(engine) == "org-b"
        assert await acting(engine, org_id="org-c") == "org-c"


async def test_without_a_principal_the_organization_is_empty(engine: AsyncEngine) -> None:
    assert await acting(engine) == ""


async def test_the_setting_lasts_one_transaction(engine: AsyncEngine) -> None:
    async with UnitOfWork(engine, org_id="org-a") as uow:
        connection = uow.connection
        assert await connection.scalar(SETTING) == "org-a"
        await uow.rollback()
        await connection.begin()
        assert await connection.scalar(SETTING) in (None, "")


@pytest.mark.parametrize("org_id", ["o'rg", "org:with :colon", "50%s off", "back\\slash"])
async def test_any_text_is_quoted_not_interpreted(engine: AsyncEngine, org_id: str) -> None:
    assert await acting(engine, org_id=org_id) == org_id


async def test_the_transaction_may_still_choose_its_isolation(engine: AsyncEngine) -> None:
    async with UnitOfWork(engine, org_id="org-a") as uow:
        await uow.connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        assert await uow.connection.scalar(text("SHOW transaction_isolation")) == "repeatable read"


async def test_a_nul_byte_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="NUL"):
        await acting(engine, org_id="org\x00")


async def test_a_platform_caller_acts_for_every_organization_where_the_service_asks() -> None:
    operator = Principal(subject="operator", kind="operator")
    billing = Principal(subject="billing", org_id="org-a", kind="service")
    member = Principal(subject="u1", org_id="org-a")
    for principal, expected in ((operator, PLATFORM), (billing, PLATFORM), (member, "org-a")):
        with context.bound(principal=principal):
            assert current_tenant(platform=True) == expected
            assert current_tenant() == principal.org_id
            with acting_for("org-b"):
                assert current_tenant(platform=True) == "org-b"


async def test_a_unit_of_work_can_narrow_to_the_organization_it_found(
    engine: AsyncEngine,
) -> None:
    async with UnitOfWork(engine, org_id=PLATFORM) as uow:
        assert await uow.connection.scalar(SETTING) == PLATFORM
        await uow.act_for("org-found")
        assert await uow.connection.scalar(SETTING) == "org-found"
        assert uow.org_id == "org-found"


# -- reads: each statement its own read-only transaction acting for the organization ------


async def test_every_statement_of_a_read_acts_for_its_organization(engine: AsyncEngine) -> None:
    async with UnitOfWork(engine, org_id="org-a", read_only=True) as uow:
        assert await uow.connection.scalar(SETTING) == "org-a"
        assert await uow.connection.scalar(SETTING) == "org-a"  # not the first one only
        await uow.act_for("org-found")
        assert await uow.connection.scalar(SETTING) == "org-found"


async def test_a_read_acts_for_the_callers_organization(engine: AsyncEngine) -> None:
    with context.bound(principal=Principal(subject="u1", org_id="org-of-the-caller")):
        assert await acting(engine, read_only=True) == "org-of-the-caller"
    assert await acting(engine, read_only=True) == ""


async def test_a_read_refuses_writes(engine: AsyncEngine) -> None:
    async with UnitOfWork(engine, org_id="org-a", read_only=True) as uow:
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await uow.connection.execute(text("CREATE TABLE read_wrote (id int)"))
        with pytest.raises(RuntimeError, match="nothing to commit"):
            await uow.commit()


async def test_a_read_refuses_writes_sent_as_many(engine: AsyncEngine) -> None:
    """A statement with many parameter sets (the driver's executemany) is a read's too: it
    must not run outside the read-only transaction, in autocommit, where it would commit."""
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE IF NOT EXISTS read_wrote_many (id int)"))
    async with UnitOfWork(engine, org_id="org-a", read_only=True) as uow:
        with pytest.raises((DBAPIError, RuntimeError), match="read"):
            await uow.connection.execute(
                text("INSERT INTO read_wrote_many (id) VALUES (:id)"), [{"id": 1}, {"id": 2}]
            )
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM read_wrote_many")) == 0


async def test_a_read_refuses_the_drivers_stream_and_copy(engine: AsyncEngine) -> None:
    """The driver's cursor streams rows and copies data outside ``execute``: in a read those
    would run bare, in autocommit, acting for no organization and free to write."""
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE IF NOT EXISTS read_streamed (id int)"))
    async with UnitOfWork(engine, org_id="org-a", read_only=True) as uow:
        driver = await driver_connection(uow.connection)
        cursor = driver.cursor()
        with pytest.raises(RuntimeError, match="read"):
            async for _ in cursor.stream("INSERT INTO read_streamed VALUES (1) RETURNING id"):
                pass
        with pytest.raises(RuntimeError, match="read"):
            async with cursor.copy("COPY read_streamed FROM STDIN") as copy:
                await copy.write_row((2,))
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM read_streamed")) == 0


async def test_the_organization_of_a_read_ends_with_it(engine: AsyncEngine) -> None:
    """The pooled connection goes back as it was: in a transaction, acting for nobody."""
    single = create_engine(str(engine.url.render_as_string(hide_password=False)), pool_size=1)
    try:
        async with UnitOfWork(single, org_id="org-a", read_only=True) as uow:
            assert await uow.connection.scalar(SETTING) == "org-a"
        async with single.connect() as connection:
            assert await connection.scalar(SETTING) in (None, "")
            assert await connection.scalar(text("SHOW transaction_read_only")) == "off"
            assert connection.in_transaction()
            await connection.execute(text("CREATE TEMPORARY TABLE after_a_read (id int)"))
    finally:
        await single.dispose()


@pytest.mark.parametrize("after_s", [0.0, 0.01, 0.1])
async def test_a_read_cancelled_mid_statement_leaves_the_connection_clean(
    engine: AsyncEngine, after_s: float
) -> None:
    """A request timing out while its read is in flight (in the pipeline, or waiting on the
    answer): the one pooled connection serves the next organization its own rows, and goes
    back in a transaction, acting for nobody."""
    single = create_engine(str(engine.url.render_as_string(hide_password=False)), pool_size=1)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(after_s):
                async with UnitOfWork(single, org_id="org-a", read_only=True) as uow:
                    await uow.connection.execute(text("SELECT 'of-a', pg_sleep(1)"))
        async with UnitOfWork(single, org_id="org-b", read_only=True) as uow:
            rows = (await uow.connection.execute(text("SELECT 'of-b'"))).all()
            assert rows == [("of-b",)]
            assert await uow.connection.scalar(SETTING) == "org-b"
        async with single.connect() as connection:
            assert await connection.scalar(SETTING) in (None, "")
            assert await connection.scalar(text("SHOW transaction_read_only")) == "off"
            assert connection.in_transaction()
    finally:
        await single.dispose()


async def test_a_read_cannot_stream_from_a_server_side_cursor(engine: AsyncEngine) -> None:
    """A server-side cursor needs a transaction: streaming in a read fails at once, plainly,
    rather than run without the organization."""
    async with UnitOfWork(engine, org_id="org-a", read_only=True) as uow:
        with pytest.raises(DBAPIError, match="transaction block"):
            await uow.connection.stream(text("SELECT 1"))


async def test_a_read_is_one_round_trip_per_statement(engine: AsyncEngine) -> None:
    """No BEGIN, SET LOCAL or COMMIT of its own: the setting rides with the statement."""
    async with UnitOfWork(engine, org_id="org-a", read_only=True) as uow:
        driver = await driver_connection(uow.connection)
        with tempfile.TemporaryFile("w+") as trace:
            driver.pgconn.trace(trace.fileno())
            driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
            try:
                await uow.connection.scalar(SETTING)
                await uow.connection.scalar(SETTING)
            finally:
                driver.pgconn.untrace()
            trace.seek(0)
            # Lines of the libpq trace: direction, length, message type and its fields.
            sent = [line.split("\t")[2].split()[0] for line in trace if line.startswith("F\t")]
    assert sent.count("Sync") == 2
    assert "Query" not in sent  # no BEGIN/COMMIT (psycopg sends them as simple queries)
    assert [kind for kind in sent if kind in ("Execute", "Sync")] == [
        "Execute",
        "Execute",
        "Sync",
    ] * 2
