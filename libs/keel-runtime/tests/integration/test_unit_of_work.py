"""UnitOfWork against PostgreSQL: rollback unless committed, events reach the outbox atomically."""

from __future__ import annotations

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import String, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keel_runtime.db import UnitOfWork, async_url, create_engine, new_metadata, ping
from keel_runtime.events import decode, new_event, unpack
from keel_runtime.events.tables import OUTBOX

pytestmark = pytest.mark.integration


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


@pytest.fixture
async def things(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE things (name text PRIMARY KEY)"))
    return engine


async def test_leaving_without_commit_rolls_back_change_and_events(things: AsyncEngine) -> None:
    async with UnitOfWork(things) as uow:
        await uow.connection.execute(text("INSERT INTO things VALUES ('core')"))
        await uow.session.execute(text("INSERT INTO things VALUES ('orm')"))
        uow.publish(
            new_event(type="t.a.b", source="t", subject="s", org_id="o", payload=StringValue())
        )

    assert await _count(things, "things") == 0
    assert await _count(things, "outbox") == 0


async def test_an_exception_rolls_back(things: AsyncEngine) -> None:
    with pytest.raises(LookupError):
        async with UnitOfWork(things) as uow:
            await uow.connection.execute(text("INSERT INTO things VALUES ('a')"))
            raise LookupError("boom")

    assert await _count(things, "things") == 0


async def test_commit_writes_change_and_events_in_one_transaction(things: AsyncEngine) -> None:
    first = new_event(
        type="test.thing.created",
        source="test",
        subject="a",
        org_id="o",
        payload=StringValue(value="a"),
    )
    second = new_event(
        type="test.thing.renamed",
        source="test",
        subject="a",
        org_id="o",
        payload=StringValue(value="b"),
    )
    async with UnitOfWork(things) as uow:
        await uow.connection.execute(text("INSERT INTO things VALUES ('core')"))
        await uow.session.execute(text("INSERT INTO things VALUES ('orm')"))
        uow.publish(first, second)
        await uow.commit()

    assert await _count(things, "things") == 2
    async with things.connect() as conn:
        rows = (
            await conn.execute(
                select(OUTBOX.c.id, OUTBOX.c.subject, OUTBOX.c.type, OUTBOX.c.payload).order_by(
                    OUTBOX.c.subject
                )
            )
        ).all()
        unpublished = await conn.scalar(select(func.count()).where(OUTBOX.c.published_at.is_(None)))
    assert [str(r.id) for r in rows] == [first.id, second.id]
    assert [r.subject for r in rows] == ["test.thing.created", "test.thing.renamed"]
    assert {r.type for r in rows} == {"google.protobuf.StringValue"}
    assert unpack(decode(rows[1].payload), StringValue).value == "b"
    assert unpublished == 2


async def test_work_after_commit_is_not_committed(things: AsyncEngine) -> None:
    async with UnitOfWork(things) as uow:
        await uow.connection.execute(text("INSERT INTO things VALUES ('kept')"))
        await uow.commit()
        await uow.connection.execute(text("INSERT INTO things VALUES ('dropped')"))

    async with things.connect() as conn:
        names = (await conn.scalars(text("SELECT name FROM things"))).all()
    assert names == ["kept"]


async def test_ping_and_plain_postgresql_urls(database_url: str) -> None:
    assert database_url.startswith("postgresql://")
    assert async_url(database_url).startswith("postgresql+psycopg://")
    engine = create_engine(database_url)
    try:
        assert await ping(engine)
    finally:
        await engine.dispose()
    unreachable = create_engine("postgresql://nobody@127.0.0.1:1/none")
    try:
        assert not await ping(unreachable, within_s=1.0)
    finally:
        await unreachable.dispose()


def test_other_url_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        async_url("mysql://localhost/db")


class _Base(DeclarativeBase):
    metadata = new_metadata()


class _Thing(_Base):
    __tablename__ = "things"
    name: Mapped[str] = mapped_column(String, primary_key=True)


async def test_orm_objects_are_flushed_by_commit_and_only_by_it(things: AsyncEngine) -> None:
    async with UnitOfWork(things) as uow:
        uow.session.add(_Thing(name="never"))
    async with UnitOfWork(things) as uow:
        uow.session.add(_Thing(name="session-commit"))
        # The session joined the unit's transaction: its commit does not end it.
        await uow.session.commit()
    async with UnitOfWork(things) as uow:
        uow.session.add(_Thing(name="kept"))
        await uow.commit()

    async with things.connect() as conn:
        names = (await conn.scalars(text("SELECT name FROM things"))).all()
    assert names == ["kept"]
