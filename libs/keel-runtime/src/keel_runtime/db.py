"""Database engine, naming convention, units of work and readiness probe."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import psycopg
from sqlalchemy import MetaData, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from keel_runtime.events.outbox import append, notify_committed, publishing_here

# Re-exported: services reach tenancy through the unit of work's module.
from keel_runtime.tenancy import PLATFORM as PLATFORM
from keel_runtime.tenancy import TENANT_SETTING as TENANT_SETTING
from keel_runtime.tenancy import ReadingCursor, driver_connection, read_for, stop_reading
from keel_runtime.tenancy import acting_for as acting_for
from keel_runtime.tenancy import current_tenant as current_tenant
from keel_runtime.tenancy import set_tenant as set_tenant
from keel_runtime.tracing.statements import TracedCursor

if TYPE_CHECKING:
    from keel.events.v1.envelope_pb2 import Envelope

log = logging.getLogger(__name__)

E = TypeVar("E")  # a service's domain event type

EventSink = Callable[[AsyncConnection, Sequence["Envelope"]], Awaitable[None]]
"""Writes what a service keeps beside the events a transaction commits, in that transaction.

A unit of work's ``commit()`` calls it with the transaction's connection and the envelopes it
has just appended to the outbox (``occurred_at`` stamped), before the transaction commits, and
only when there are events. What it writes is therefore committed exactly when the events are
(never on a rollback, never twice); an exception from it rolls the whole transaction back,
outbox rows included. Billing writes its webhook deliveries this way.
"""

# Deterministic constraint names, so Alembic migrations can name (and later drop) them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData using the shared naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> str:
    """Rewrite a ``postgresql://`` URL for the async psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    else:
        raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}")
    return parsed.render_as_string(hide_password=False)


class StatementCursor(TracedCursor, ReadingCursor):
    """The cursor of every connection: a span per statement while tracing, around the
    statement as it is sent (with the organization it reads for, in a unit of work for
    reads)."""


def create_engine(url: str, *, pool_size: int = 8) -> AsyncEngine:
    """An async engine on psycopg 3 with a bounded pool."""
    # No pool_pre_ping: it costs a round trip per checkout on the hot path; SQLAlchemy
    # invalidates the whole pool on the first disconnect error instead.
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=10,
        # Errors never carry bound parameters (passwords, hashes, secrets) into logs.
        hide_parameters=True,
        # A span per statement while tracing (keel_runtime.tracing.statements).
        connect_args={"cursor_factory": StatementCursor},
    )


async def ping(engine: AsyncEngine, *, within_s: float = 2.0) -> bool:
    """Readiness probe: can a connection run ``SELECT 1`` within ``within_s`` seconds."""
    try:
        async with asyncio.timeout(within_s), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        log.warning("database ping failed", exc_info=True)
        return False
    return True


class UnitOfWork:
    """One transaction per command: rolls back unless ``commit()`` was called.

    ``connection`` is Core access for hot paths; ``session`` is an ORM session joined to the
    same transaction (created on first use). Events given to ``publish()`` are written to the
    outbox inside ``commit()``, in the same transaction as the change that caused them; then
    ``event_sink``, when given, writes what the service keeps beside them (``EventSink``).

    The transaction acts for ``org_id`` when given, else for ``current_tenant()``: row-level
    security shows it that organization's rows only.

    With ``read_only`` there is no transaction around the work: each statement is its own
    read-only transaction acting for the organization, sent in one round trip with it
    (keel_runtime.tenancy.read_for), and nothing can be committed. For reads that need no
    single snapshot (each statement sees what was committed when it began, as in a READ
    COMMITTED transaction), take no locks and stream no results (a server-side cursor needs
    a transaction).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        org_id: str | None = None,
        read_only: bool = False,
        event_sink: EventSink | None = None,
    ) -> None:
        self.engine = engine
        self.org_id = org_id
        self.read_only = read_only
        self._event_sink = event_sink
        self._connection: AsyncConnection | None = None
        self._reading: psycopg.AsyncConnection[Any] | None = None
        self._session: AsyncSession | None = None
        self._events: list[Envelope] = []
        self.committed = False

    async def __aenter__(self) -> Self:
        self._connection = await self.engine.connect()
        try:
            org_id = self.org_id if self.org_id is not None else current_tenant()
            if self.read_only:
                # Autocommit for this checkout only: the pool restores the default on return.
                await self._connection.execution_options(isolation_level="AUTOCOMMIT")
                driver = await driver_connection(self._connection)
                read_for(driver, org_id)
                self._reading = driver
            else:
                await self._connection.begin()
                await set_tenant(self._connection, org_id)
        except BaseException:
            await self._connection.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        session, self._session = self._session, None
        reading, self._reading = self._reading, None
        self._events.clear()
        if connection is None:
            return
        try:
            if session is not None:
                await session.close()
            if connection.in_transaction():
                await connection.rollback()
        finally:
            if reading is not None:
                stop_reading(reading)
            await connection.close()

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("UnitOfWork used outside 'async with'")
        return self._connection

    async def act_for(self, org_id: str) -> None:
        """From here to the end of the transaction, act for ``org_id``: the organization a
        lookup that runs before it is known (a SECURITY DEFINER function) has just found."""
        if self._reading is not None:
            read_for(self._reading, org_id)  # the next statements; no round trip
        else:
            await set_tenant(self.connection, org_id)
        self.org_id = org_id

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            # The session joins the connection's transaction; only commit() here ends it.
            self._session = AsyncSession(bind=self.connection, expire_on_commit=False)
        return self._session

    def publish(self, *events: Envelope) -> None:
        """Queue events; ``commit()`` writes them to the outbox in this transaction."""
        if self.read_only:
            raise RuntimeError("a read-only unit of work publishes no events")
        self._events.extend(events)

    @property
    def pending_events(self) -> Sequence[Envelope]:
        return tuple(self._events)

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work has nothing to commit")
        connection = self.connection
        if self._session is not None:
            await self._session.flush()
        events = list(self._events)
        if events:
            # The envelope contract: occurred_at is the commit time of the writing transaction.
            now = datetime.now(UTC)
            for event in events:
                event.occurred_at.FromDatetime(now)
            # The relay of this process, when it is the one publishing, is woken below.
            await _write_events(
                connection, events, self._event_sink, notify=not publishing_here(self.engine)
            )
        await connection.commit()
        self._events.clear()
        self.committed = True
        if events:
            notify_committed(self.engine)

    async def rollback(self) -> None:
        self._events.clear()
        if self._session is not None:
            await self._session.rollback()
        if not self.read_only:
            await self.connection.rollback()

    def __repr__(self) -> str:
        return f"UnitOfWork(committed={self.committed}, pending_events={len(self._events)})"


class CommandUnitOfWork(Generic[E]):
    """A service's unit of work in its own transaction (one per command): rolls back unless
    committed, and writes the domain events recorded on it to the outbox on commit.

    Subclasses declare their repositories and build them in ``bind_repositories()``, which
    runs on entering, with the transaction's connection. ``event_sink`` writes what the service
    keeps beside the events, in the same transaction (``EventSink``).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        encode: Callable[[E], Envelope],
        *,
        org_id: str | None = None,
        read_only: bool = False,
        event_sink: EventSink | None = None,
    ) -> None:
        self._transaction = UnitOfWork(
            engine, org_id=org_id, read_only=read_only, event_sink=event_sink
        )
        self._encode = encode

    def bind_repositories(self, connection: AsyncConnection) -> None:
        """Build the service's repositories on ``connection``."""

    async def __aenter__(self) -> Self:
        await self._transaction.__aenter__()
        try:
            self.bind_repositories(self._transaction.connection)
        except BaseException:
            await self._transaction.__aexit__(*sys.exc_info())
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._transaction.__aexit__(exc_type, exc, tb)

    def record(self, *events: E) -> None:
        # Envelopes are built now, while the call's request id and trace context are current.
        self._transaction.publish(*(self._encode(event) for event in events))

    async def act_for(self, org_id: str) -> None:
        """Act for ``org_id`` for the rest of the transaction (see ``UnitOfWork.act_for``)."""
        await self._transaction.act_for(org_id)

    async def commit(self) -> None:
        await self._transaction.commit()


class JoinedUnitOfWork(Generic[E]):
    """A service's unit of work inside a transaction someone else owns: an event consumer's,
    which commits the effect together with its inbox row, or rolls both back.

    ``commit()`` only appends the recorded events to the outbox on that transaction, then
    hands them to ``event_sink`` when given (``EventSink``); leaving drops the events not
    appended yet. Subclasses build their repositories in ``bind_repositories()``, which runs
    on construction.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        encode: Callable[[E], Envelope],
        *,
        event_sink: EventSink | None = None,
    ) -> None:
        self._connection = connection
        self._encode = encode
        self._event_sink = event_sink
        self._events: list[Envelope] = []
        self.bind_repositories(connection)

    def bind_repositories(self, connection: AsyncConnection) -> None:
        """Build the service's repositories on ``connection``."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._events.clear()

    def record(self, *events: E) -> None:
        self._events.extend(self._encode(event) for event in events)

    async def act_for(self, org_id: str) -> None:
        """Act for ``org_id`` for the rest of the owner's transaction."""
        await set_tenant(self._connection, org_id)

    async def commit(self) -> None:
        events, self._events = self._events, []
        if not events:
            return
        await _write_events(self._connection, events, self._event_sink)


async def _write_events(
    connection: AsyncConnection,
    events: Sequence[Envelope],
    sink: EventSink | None,
    *,
    notify: bool = True,
) -> None:
    """A transaction's events into the outbox, then what its service keeps beside them."""
    await append(connection, events, notify=notify)
    if sink is not None:
        await sink(connection, events)
