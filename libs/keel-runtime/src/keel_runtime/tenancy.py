"""The organization a transaction acts for: the key of row-level security.

Every tenant-owned table has row-level security FORCEd with a policy comparing its
organization column with the transaction's ``keel.org_id`` setting (see
keel_runtime.migrations.enable_tenant_rls). Each unit of work sets it with SET LOCAL: from
the verified principal of the call, or from an explicit ``acting_for(org)`` around platform
work (a periodic job, a consumer). Unset, it is '' and the policies let nothing through:
forgetting it fails closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from psycopg import sql
from sqlalchemy.ext.asyncio import AsyncConnection

from keel_runtime.context import current_principal

TENANT_SETTING = "keel.org_id"
_acting_for: ContextVar[str | None] = ContextVar("keel_acting_for", default=None)


@contextmanager
def acting_for(org_id: str) -> Iterator[None]:
    """Units of work opened inside act for ``org_id`` (platform work for one organization)."""
    token = _acting_for.set(org_id)
    try:
        yield
    finally:
        _acting_for.reset(token)


def current_tenant() -> str:
    """The organization units of work act for now: explicit, else the caller's; '' if none."""
    explicit = _acting_for.get()
    if explicit is not None:
        return explicit
    principal = current_principal()
    return principal.org_id if principal is not None else ""


async def set_tenant(connection: AsyncConnection, org_id: str) -> None:
    """SET LOCAL the organization of the connection's current transaction.

    SET LOCAL rather than ``SELECT set_config(...)``: a utility statement takes no snapshot,
    so the transaction can still choose its isolation level (``SET TRANSACTION``) after it.
    SET takes no bind parameters, so the driver quotes the value as a literal; it runs on the
    driver's connection, where no placeholder syntax (``%s``, ``:name``) is interpreted.
    """
    if "\x00" in org_id:
        raise ValueError("an organization id cannot hold a NUL byte")
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    # One round trip more per transaction: the driver sends its implicit BEGIN first and
    # waits for the answer (a pipeline does not merge them; a protocol trace shows it).
    await driver.execute(_SET_LOCAL.format(sql.Literal(org_id)))


_SET_LOCAL = sql.SQL(f"SET LOCAL {TENANT_SETTING} TO {{}}")
