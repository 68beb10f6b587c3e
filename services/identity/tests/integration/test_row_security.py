"""Tenant isolation held by PostgreSQL itself, as the runtime role identity serves with.

Row-level security on organizations, users, refresh tokens, API keys and the audit log
(migration 0002): a query that forgot its org filter still returns nothing of another
organization, a write for another organization is refused, and the calls that run before
their organization is known (login, API-key check, refresh, sign-up) and the retention
purge cross organizations only through functions that return the one row they need.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from identity.app import audit_trail
from identity.app.commands import (
    AuthenticateApiKey,
    CreateApiKey,
    CreateOrganization,
    CreateUser,
    IntrospectToken,
    Login,
    RefreshSession,
)
from identity.app.handlers import Handlers
from identity.domain.errors import EmailTaken
from identity.domain.roles import Role
from identity.storage.retention import RetentionPolicy, purge
from identity.storage.tables import api_keys, audit_events, organizations, refresh_tokens, users
from identity.storage.uow import SqlUnitOfWork
from keel_runtime.caller import Caller
from keel_runtime.tenancy import acting_for
from keel_runtime.testing import ROW_SECURITY_LIFTS, row_security_flags

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
SERVICE = Caller("gateway", "", frozenset(), frozenset(), "service")
POLICED: dict[str, Table] = {
    "organizations": organizations,
    "users": users,
    "refresh_tokens": refresh_tokens,
    "api_keys": api_keys,
    "audit_events": audit_events,
}


@dataclass(frozen=True)
class Tenant:
    org: str
    email: str
    owner: Caller
    api_key_secret: str
    refresh_token: str


async def tenant(handlers: Handlers, email: str) -> Tenant:
    """A signed-up organization whose owner logged in and made an API key."""
    signed_up = await handlers.organizations.create(
        CreateOrganization("Engines", email, PASSWORD, request_id=str(uuid.uuid4()))
    )
    org = signed_up.organization.id
    owner = Caller(signed_up.owner.id, org, frozenset({Role.OWNER}), frozenset(), "user")
    grant = await handlers.auth.login(Login(email, PASSWORD, organization_id=org))
    key = await handlers.api_keys.create(
        CreateApiKey(owner, "ci", scopes=frozenset({"items:read"}))
    )
    return Tenant(org, email, owner, key.secret, grant.refresh_token)


@pytest.fixture
async def two(handlers: Handlers) -> tuple[Tenant, Tenant]:
    return await tenant(handlers, "a@example.com"), await tenant(handlers, "b@example.com")


async def visible(engine: AsyncEngine, org: str, *, reading: bool = False) -> dict[str, set[str]]:
    """The organizations whose rows a unit of work acting for ``org`` sees, per table,
    with no filter at all (``reading``: a read's, each statement its own transaction)."""
    with acting_for(org):
        async with SqlUnitOfWork(engine, read_only=reading) as uow:
            conn = uow._transaction.connection
            seen = {}
            for name, table in POLICED.items():
                column = table.c.id if name == "organizations" else table.c.organization_id
                seen[name] = set((await conn.scalars(select(column).distinct())).all())
            return seen


@pytest.mark.parametrize("reading", [False, True], ids=["uow", "reads"])
async def test_a_query_without_its_org_filter_sees_only_the_acting_org(
    engine: AsyncEngine, admin_engine: AsyncEngine, two: tuple[Tenant, Tenant], reading: bool
) -> None:
    # The same for a read, whose statements each run in a transaction of their own.
    a, b = two
    assert await visible(engine, a.org, reading=reading) == {name: {a.org} for name in POLICED}
    async with admin_engine.connect() as conn:  # what the database holds: both
        assert await conn.scalar(select(func.count()).select_from(organizations)) == 2
    with acting_for(a.org):
        async with SqlUnitOfWork(engine, read_only=reading) as uow:
            # The repositories, handed the other organization's ids, find nothing.
            assert await uow.organizations.get(b.org) is None
            assert await uow.users.get(b.org, b.owner.subject) is None
            assert await uow.users.find_by_email("b@example.com", b.org) == []


async def test_without_an_organization_nothing_is_visible_or_writable(
    engine: AsyncEngine, handlers: Handlers, two: tuple[Tenant, Tenant]
) -> None:
    assert await visible(engine, "") == {name: set() for name in POLICED}
    a, _ = two
    async with SqlUnitOfWork(engine) as uow:  # no principal, no acting_for: a forged entry
        with pytest.raises(ProgrammingError, match="row-level security"):
            await uow.audit.append(
                audit_trail.entry(
                    organization_id=a.org,
                    action="forged",
                    target_type="user",
                    target_id=a.owner.subject,
                    at=datetime.now(UTC),
                )
            )


async def test_a_write_for_another_organization_is_refused(
    engine: AsyncEngine, two: tuple[Tenant, Tenant]
) -> None:
    a, b = two
    with acting_for(a.org):
        async with SqlUnitOfWork(engine) as uow:
            with pytest.raises(ProgrammingError, match="row-level security"):
                await uow._transaction.connection.execute(
                    users.update()
                    .where(users.c.id == a.owner.subject)
                    .values(organization_id=b.org)
                )


async def test_sign_in_paths_find_their_organization_across_organizations(
    handlers: Handlers, two: tuple[Tenant, Tenant]
) -> None:
    # No principal for any of these: login, refresh, the API-key exchange and the mesh's
    # introspection each find the organization from what the caller presents.
    for t in two:
        grant = await handlers.auth.login(Login(t.email, PASSWORD))
        assert grant.organization_id == t.org
        refreshed = await handlers.auth.refresh(RefreshSession(t.refresh_token))
        assert refreshed.organization_id == t.org
        exchanged = await handlers.api_keys.authenticate(
            AuthenticateApiKey(SERVICE, t.api_key_secret)
        )
        assert exchanged.api_key.organization_id == t.org
        seen = await handlers.auth.introspect(IntrospectToken(SERVICE, grant.access_token))
        assert (seen.active, seen.organization_id) == (True, t.org)


async def test_a_login_names_its_organization_among_accounts_of_one_email(
    handlers: Handlers, two: tuple[Tenant, Tenant]
) -> None:
    a, b = two
    # The same email in b's organization, added by b's owner.
    await handlers.users.create(CreateUser(b.owner, "a@example.com", "another password 1"))
    default = await handlers.auth.login(Login("a@example.com", PASSWORD))
    assert default.organization_id == a.org  # the email's first registered account
    named = await handlers.auth.login(Login("a@example.com", "another password 1", b.org))
    assert named.organization_id == b.org
    with pytest.raises(EmailTaken):  # a sign-up sees the email taken in any organization
        await handlers.organizations.create(
            CreateOrganization("Other", "a@example.com", PASSWORD, request_id="")
        )


async def test_the_purge_deletes_expired_sessions_of_every_organization(
    engine: AsyncEngine, admin_engine: AsyncEngine, two: tuple[Tenant, Tenant]
) -> None:
    later = datetime.now(UTC) + timedelta(days=40)
    tokens, _ = await purge(engine, later, RetentionPolicy())
    assert tokens == 2
    async with admin_engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(refresh_tokens)) == 0


async def test_only_the_lookup_functions_cross_organizations(
    engine: AsyncEngine, two: tuple[Tenant, Tenant]
) -> None:
    _, b = two
    async with engine.connect() as conn:
        target = await conn.execute(
            text("SELECT organization_id FROM identity_login_target('b@example.com', NULL)")
        )
        assert [str(r[0]) for r in target] == [b.org]
        assert await conn.scalar(text("SELECT identity_email_registered('a@example.com')"))
        # The same session's own queries see no organization's users.
        assert await conn.scalar(text("SELECT count(*) FROM users")) == 0


@pytest.mark.parametrize("table", sorted(POLICED))
@pytest.mark.parametrize("statement", ROW_SECURITY_LIFTS)
def test_the_runtime_role_cannot_lift_the_policies(
    migrated_database_url: str, table: str, statement: str
) -> None:
    with (
        psycopg.connect(migrated_database_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement.format(table))


def test_the_policed_tables_force_row_level_security(migrated_database_url: str) -> None:
    rows = row_security_flags(migrated_database_url, POLICED)
    assert rows == [(t, True, True) for t in sorted(POLICED)]
