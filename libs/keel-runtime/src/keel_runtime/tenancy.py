"""The organization a transaction acts for: the key of row-level security.

Every tenant-owned table has row-level security FORCEd with a policy comparing its
organization column with the transaction's ``keel.org_id`` setting (see
keel_runtime.migrations.enable_tenant_rls). Each unit of work sets it with SET LOCAL: from
the verified principal of the call, or from an explicit ``acting_for(org)`` around platform
work (a periodic job, a consumer). Unset, it is '' and the policies let nothing through:
forgetting it fails closed.

A read needs no transaction of its own: ``read_for`` makes each statement on a connection
in autocommit its own read-only transaction acting for the organization, the setting sent
in the same round trip as the statement (``ReadingCursor``). A read costs one round trip
where BEGIN, SET LOCAL, the statement and the end of the transaction cost four.

``PLATFORM`` ('*') acts for every organization, but only where a table's policy admits it
(``enable_tenant_rls(..., admit_platform=True)``): in the ledger, whose contract gives the
platform (the operator, Keel services) every organization's books. No other policy lets
it see a row. Work that must cross organizations in other services goes through SECURITY DEFINER
functions instead (see keel_runtime.migrations.create_cross_org_function).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from psycopg import AsyncCursor, sql
from sqlalchemy.ext.asyncio import AsyncConnection

from keel_runtime.access import is_platform
from keel_runtime.context import current_principal

TENANT_SETTING = "keel.org_id"
PLATFORM = "*"
"""The value of ``keel.org_id`` acting for every organization (where a policy admits it)."""
_acting_for: ContextVar[str | None] = ContextVar("keel_acting_for", default=None)


@contextmanager
def acting_for(org_id: str) -> Iterator[None]:
    """Units of work opened inside act for ``org_id`` (platform work for one organization)."""
    token = _acting_for.set(org_id)
    try:
        yield
    finally:
        _acting_for.reset(token)


def current_tenant(*, platform: bool = False) -> str:
    """The organization units of work act for now: explicit, else the caller's; '' if none.

    With ``platform``, a platform caller (the operator or a Keel service, both proven by a
    workload certificate) acts for ``PLATFORM`` rather than for the organization it names:
    for a service whose platform callers work across organizations by contract (the ledger).
    """
    explicit = _acting_for.get()
    if explicit is not None:
        return explicit
    principal = current_principal()
    if principal is None:
        return ""
    if platform and is_platform(principal):
        return PLATFORM
    return principal.org_id


async def set_tenant(connection: AsyncConnection, org_id: str) -> None:
    """SET LOCAL the organization of the connection's current transaction.

    SET LOCAL rather than ``SELECT set_config(...)``: a utility statement takes no snapshot,
    so the transaction can still choose its isolation level (``SET TRANSACTION``) after it.
    SET takes no bind parameters, so the driver quotes the value as a literal; it runs on the
    driver's connection, where no placeholder syntax (``%s``, ``:name``) is interpreted.
    """
    statement = set_tenant_statement(org_id)
    driver = await driver_connection(connection)
    # One round trip more per transaction: the driver sends its implicit BEGIN first and
    # waits for the answer (a pipeline does not merge them; a protocol trace shows it).
    await driver.execute(statement)


def set_tenant_statement(org_id: str) -> sql.Composed:
    """The SET LOCAL of ``set_tenant``, to send with other statements in one round trip."""
    _check(org_id)
    return _SET_LOCAL.format(sql.Literal(org_id))


_SET_LOCAL = sql.SQL(f"SET LOCAL {TENANT_SETTING} TO {{}}")


async def driver_connection(connection: AsyncConnection) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under SQLAlchemy's."""
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, psycopg.AsyncConnection)
    return driver


def read_for(driver: psycopg.AsyncConnection[Any], org_id: str) -> None:
    """From now on, each statement on ``driver`` runs in its own read-only transaction acting
    for ``org_id``, until ``stop_reading``. The connection must be in autocommit: inside a
    transaction the statements run as they are (that transaction's setting holds)."""
    _check(org_id)
    if not driver.autocommit:
        raise RuntimeError("reads act for an organization per statement in autocommit only")
    _reading[driver] = org_id


def stop_reading(driver: psycopg.AsyncConnection[Any]) -> None:
    """The connection's statements no longer act for an organization (before it is pooled)."""
    _reading.pop(driver, None)


class ReadingCursor(AsyncCursor[Any]):
    """A cursor whose statements, on a connection ``read_for`` an organization, each run in
    one transaction with that organization set and writes refused.

    The setting goes in a pipeline with the statement: set_config(..., true) and the
    statement run in the implicit transaction that lasts until the pipeline's Sync, where
    the setting ends with it. ``transaction_read_only`` makes a write there an error, as a
    read-only transaction's would be. One round trip: Parse/Bind/Execute of both, then Sync.
    """

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        connection = self.connection
        org_id = _reading.get(connection) if connection.autocommit else None
        if org_id is None:
            return await super().execute(query, params, **kwargs)
        async with connection.pipeline():
            # A plain cursor: this one holds the statement's results, and runs no prelude.
            await AsyncCursor(connection).execute(_READ_PRELUDE, (org_id,))
            await super().execute(query, params, **kwargs)
        return self

    # The cursor's other ways to send a statement would run it bare: in autocommit, acting
    # for no organization and free to write (each committing at once). A read needs none:
    # many parameter sets are a write's, and streaming or copying wants a transaction.

    async def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
        self._refuse_in_a_read("executemany")
        await super().executemany(query, params_seq, **kwargs)

    async def stream(self, query: Any, params: Any = None, **kwargs: Any) -> AsyncIterator[Any]:
        self._refuse_in_a_read("stream")
        async for row in super().stream(query, params, **kwargs):
            yield row

    @asynccontextmanager
    async def copy(self, statement: Any, params: Any = None, **kwargs: Any) -> AsyncIterator[Any]:
        self._refuse_in_a_read("copy")
        async with super().copy(statement, params, **kwargs) as copy:
            yield copy

    def _refuse_in_a_read(self, what: str) -> None:
        if self.connection.autocommit and self.connection in _reading:
            raise RuntimeError(f"a read-only unit of work runs no {what}: it has no transaction")


_reading: WeakKeyDictionary[psycopg.AsyncConnection[Any], str] = WeakKeyDictionary()
"""The organization each connection reads for (see read_for)."""

_READ_PRELUDE = (
    f"SELECT set_config('{TENANT_SETTING}', %s, true),"
    " set_config('transaction_read_only', 'on', true)"
)


def _check(org_id: str) -> None:
    if "\x00" in org_id:
        raise ValueError("an organization id cannot hold a NUL byte")
