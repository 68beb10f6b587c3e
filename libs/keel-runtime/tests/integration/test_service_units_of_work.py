"""CommandUnitOfWork and JoinedUnitOfWork: repositories on the transaction, events to the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool

from keel_runtime.db import CommandUnitOfWork, JoinedUnitOfWork
from keel_runtime.events import Envelope, decode, new_event, unpack
from keel_runtime.events.tables import OUTBOX

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class ThingAdded:
    """A domain event, as a service's domain layer would record it."""

    name: str


def encode(event: ThingAdded) -> Envelope:
    return new_event(
        type="test.thing.added",
        source="test",
        subject=event.name,
        org_id="o",
        payload=StringValue(value=event.name),
    )


class Things:
    """A repository on the unit of work's connection."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, name: str) -> None:
        await self._connection.execute(text("INSERT INTO things VALUES (:name)"), {"name": name})


class CommandThings(CommandUnitOfWork[ThingAdded]):
    things: Things

    def bind_repositories(self, connection: AsyncConnection) -> None:
        self.things = Things(connection)


class JoinedThings(JoinedUnitOfWork[ThingAdded]):
    things: Things

    def bind_repositories(self, connection: AsyncConnection) -> None:
        self.things = Things(connection)


@pytest.fixture
async def things(engine: AsyncEngine) -> AsyncEngine:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE things (name text PRIMARY KEY)"))
    return engine


async def _state(engine: AsyncEngine) -> tuple[list[str], list[str]]:
    """The things and the names carried by the outbox events, in insertion order."""
    async with engine.connect() as conn:
        names = list((await conn.scalars(text("SELECT name FROM things ORDER BY name"))).all())
        payloads = (await conn.scalars(select(OUTBOX.c.payload).order_by(OUTBOX.c.id))).all()
    return names, [unpack(decode(p), StringValue).value for p in payloads]


async def test_command_commit_writes_the_change_and_its_events(things: AsyncEngine) -> None:
    async with CommandThings(things, encode) as uow:
        await uow.things.add("a")
        uow.record(ThingAdded("a"))
        await uow.commit()

    assert await _state(things) == (["a"], ["a"])


async def test_command_without_commit_leaves_nothing(things: AsyncEngine) -> None:
    async with CommandThings(things, encode) as uow:
        await uow.things.add("a")
        uow.record(ThingAdded("a"))

    assert await _state(things) == ([], [])


async def test_command_encodes_events_when_recorded(things: AsyncEngine) -> None:
    encoded: list[str] = []

    def spy(event: ThingAdded) -> Envelope:
        encoded.append(event.name)
        return encode(event)

    async with CommandThings(things, spy) as uow:
        uow.record(ThingAdded("a"))
        assert encoded == ["a"]
        await uow.commit()
    assert encoded == ["a"]


async def test_command_gives_the_connection_back_when_binding_fails(things: AsyncEngine) -> None:
    class Broken(CommandUnitOfWork[ThingAdded]):
        def bind_repositories(self, connection: AsyncConnection) -> None:
            raise LookupError("no repositories")

    with pytest.raises(LookupError):
        async with Broken(things, encode):
            pass

    pool = things.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedout() == 0


async def test_joined_commit_appends_events_in_the_owners_transaction(things: AsyncEngine) -> None:
    async with things.begin() as conn:
        uow = JoinedThings(conn, encode)
        async with uow:
            await uow.things.add("a")
            uow.record(ThingAdded("a"))
            await uow.commit()
        # Nothing is committed until the owner commits.
        assert await _state(things) == ([], [])

    assert await _state(things) == (["a"], ["a"])


async def test_joined_work_rolls_back_with_its_owner(things: AsyncEngine) -> None:
    with pytest.raises(LookupError):
        async with things.begin() as conn:
            uow = JoinedThings(conn, encode)
            await uow.things.add("a")
            uow.record(ThingAdded("a"))
            await uow.commit()
            raise LookupError("the consumer's handler failed after the work")

    assert await _state(things) == ([], [])


async def test_joined_events_not_committed_are_dropped_on_leaving(things: AsyncEngine) -> None:
    async with things.begin() as conn:
        uow = JoinedThings(conn, encode)
        async with uow:
            await uow.things.add("a")
            uow.record(ThingAdded("a"))
        await uow.commit()

    assert await _state(things) == (["a"], [])


class Sink:
    """An event sink adding one thing per event, in the transaction it is given."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, connection: AsyncConnection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            self.seen.append(envelope.subject)
            await Things(connection).add(f"beside-{envelope.subject}")


async def test_command_hands_its_events_to_the_sink_in_its_transaction(
    things: AsyncEngine,
) -> None:
    sink = Sink()
    async with CommandThings(things, encode, event_sink=sink) as uow:
        await uow.things.add("a")
        uow.record(ThingAdded("a"))
        await uow.commit()
    async with CommandThings(things, encode, event_sink=sink) as uow:
        uow.record(ThingAdded("b"))  # not committed

    assert sink.seen == ["a"]
    assert await _state(things) == (["a", "beside-a"], ["a"])


async def test_joined_hands_its_events_to_the_sink_in_the_owners_transaction(
    things: AsyncEngine,
) -> None:
    sink = Sink()
    with pytest.raises(LookupError):
        async with things.begin() as conn:
            uow = JoinedThings(conn, encode, event_sink=sink)
            uow.record(ThingAdded("a"))
            await uow.commit()
            raise LookupError("the consumer's handler failed after the work")
    assert sink.seen == ["a"]
    assert await _state(things) == ([], [])

    async with things.begin() as conn:
        uow = JoinedThings(conn, encode, event_sink=sink)
        await uow.commit()  # nothing recorded: the sink is not called
        uow.record(ThingAdded("b"))
        await uow.commit()
    assert sink.seen == ["a", "b"]
    assert await _state(things) == (["beside-b"], ["b"])
