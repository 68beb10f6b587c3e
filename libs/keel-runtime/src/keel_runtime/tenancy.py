"""The organization a transaction acts for: the key of row-level security.

Every tenant-owned table has row-level security FORCEd with a policy comparing its
organization column with the transaction's ``keel.org_id`` setting (see
keel_runtime.migrations.enable_tenant_rls). Each unit of work sets it with SET LOCAL: from
the verified principal of the call, or from an explicit ``acting_for(org)`` around platform
work (a periodic job, a consumer). Unset, it is '' and the policies let nothing through:
forgetting it fails closed.

``PLATFORM`` ('*') acts for every organization, but only where a table's policy admits it
(``enable_tenant_rls(..., admit_platform=True)``): in the ledger, whose contract gives the
platform (the operator, Keel services) every organization's books. No other policy lets
it see a row. Work that must cross organizations in other services goes through SECURITY DEFINER
functions instead (see keel_runtime.migrations.create_cross_org_function).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from psycopg import sql
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
    if "\x00" in org_id:
        raise ValueError("an organization id cannot hold a NUL byte")
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    # One round trip more per transaction: the driver sends its implicit BEGIN first and
    # waits for the answer (a pipeline does not merge them; a protocol trace shows it).
    await driver.execute(_SET_LOCAL.format(sql.Literal(org_id)))


_SET_LOCAL = sql.SQL(f"SET LOCAL {TENANT_SETTING} TO {{}}")
