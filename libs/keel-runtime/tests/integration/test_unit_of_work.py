"""UnitOfWork against PostgreSQL: rollback unless committed, events reach the outbox atomically."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import String, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from keel_runtime.db import UnitOfWork, async_url, create_engine, new_metadata, ping
from keel_runtime.events import Envelope, decode, new_event, unpack
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


def _event(name: str) -> Envelope:
    return new_event(
        type="test.thing.created",
        source="test",
        subject=name,
        org_id="o",
        payload=StringValue(value=name),
    )


class KeepBeside:
    """An event sink writing one row per event in the committing transaction, and noting
    what it saw there: the envelopes, and the outbox rows already written beside them."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[list[Envelope], int]] = []

    async def __call__(self, connection: AsyncConnection, envelopes: Sequence[Envelope]) -> None:
        outbox_rows = int(await connection.scalar(text("SELECT count(*) FROM outbox")) or 0)
        self.calls.append((list(envelopes), outbox_rows))
        for envelope in envelopes:
            await connection.execute(
                text("INSERT INTO things VALUES (:name)"), {"name": f"beside-{envelope.subject}"}
            )
        if self.fail:
            raise LookupError("the sink failed")


async def test_event_sink_writes_beside_the_stamped_events_in_the_transaction(
    things: AsyncEngine,
) -> None:
    sink = KeepBeside()
    first, second = _event("a"), _event("b")
    async with UnitOfWork(things, event_sink=sink) as uow:
        uow.publish(first, second)
        await uow.commit()

    ((seen, outbox_rows),) = sink.calls
    assert [e.id for e in seen] == [first.id, second.id]
    # Called after the envelopes were stamped and appended to the outbox.
    assert all(e.occurred_at.seconds > 0 for e in seen)
    assert outbox_rows == 2
    async with things.connect() as conn:
        names = (await conn.scalars(text("SELECT name FROM things ORDER BY name"))).all()
    assert names == ["beside-a", "beside-b"]
    assert await _count(things, "outbox") == 2


async def test_a_failing_event_sink_rolls_the_whole_transaction_back(things: AsyncEngine) -> None:
    with pytest.raises(LookupError):
        async with UnitOfWork(things, event_sink=KeepBeside(fail=True)) as uow:
            await uow.connection.execute(text("INSERT INTO things VALUES ('change')"))
            uow.publish(_event("a"))
            await uow.commit()

    assert await _count(things, "things") == 0
    assert await _count(things, "outbox") == 0


async def test_event_sink_is_not_called_without_events_nor_on_rollback(
    things: AsyncEngine,
) -> None:
    sink = KeepBeside()
    async with UnitOfWork(things, event_sink=sink) as uow:
        await uow.connection.execute(text("INSERT INTO things VALUES ('change')"))
        await uow.commit()
    async with UnitOfWork(things, event_sink=sink) as uow:
        uow.publish(_event("a"))
        await uow.rollback()
    async with UnitOfWork(things, event_sink=sink) as uow:
        uow.publish(_event("b"))  # left without commit

    assert sink.calls == []
    assert await _count(things, "things") == 1
    assert await _count(things, "outbox") == 0
