"""Sign-up against PostgreSQL: one transaction writes org + owner + outbox, or nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from keel.events.v1.envelope_pb2 import Envelope
from keel.identity.v1 import events_pb2
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from identity.app.commands import CreateOrganization, Login
from identity.domain.errors import EmailTaken, InvalidCredentials
from identity.storage.uow import SqlUnitOfWork
from keel_runtime.context import bound
from keel_runtime.tenancy import set_tenant

from identity.storage.tables import (  # isort: skip
    audit_events,
    organizations,
    outbox,
    users,
)

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"


def sign_up(email: str = "ada@example.com", request_id: str = "") -> CreateOrganization:
    return CreateOrganization(
        display_name="Engines",
        owner_email=email,
        owner_password=PASSWORD,
        default_currency="EUR",
        request_id=request_id or str(uuid.uuid4()),
    )


async def counts(engine) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """Rows of every organization (``engine``: the administrator's)."""
    async with engine.connect() as conn:
        return (
            await conn.scalar(select(func.count()).select_from(organizations)),
            await conn.scalar(select(func.count()).select_from(users)),
            await conn.scalar(select(func.count()).select_from(outbox)),
        )


async def test_writes_organization_owner_and_outbox_event(engine, admin_engine, handlers) -> None:
    with bound(request_id="req-sign-up"):
        result = await handlers.organizations.create(sign_up())

    assert await counts(admin_engine) == (1, 1, 2)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(outbox).where(outbox.c.subject == "identity.organization.created")
            )
        ).one()
    envelope = Envelope.FromString(row.payload)
    assert envelope.type == row.subject == "identity.organization.created"
    assert row.type == "keel.identity.v1.OrganizationCreated"
    assert envelope.source == "identity"
    assert envelope.subject == envelope.org_id == result.organization.id
    assert envelope.request_id == "req-sign-up"
    payload = events_pb2.OrganizationCreated()
    assert envelope.payload.Unpack(payload)
    assert payload.owner_user_id == result.owner.id
    assert payload.default_currency == "EUR"


async def test_failure_after_the_writes_leaves_nothing(admin_engine, handlers, monkeypatch) -> None:
    async def broken_commit(self: SqlUnitOfWork) -> None:
        raise RuntimeError("connection lost before commit")

    monkeypatch.setattr(SqlUnitOfWork, "commit", broken_commit)
    with pytest.raises(RuntimeError):
        await handlers.organizations.create(sign_up())

    assert await counts(admin_engine) == (0, 0, 0)


async def test_duplicate_email_rolls_back_the_idempotency_claim(admin_engine, handlers) -> None:
    await handlers.organizations.create(sign_up())
    request_id = str(uuid.uuid4())

    with pytest.raises(EmailTaken):
        await handlers.organizations.create(sign_up("ADA@example.com", request_id))
    assert await counts(admin_engine) == (1, 1, 2)
    # The failed request id is free again: it was part of the rolled-back transaction.
    result = await handlers.organizations.create(sign_up("grace@example.com", request_id))
    assert result.owner.email == "grace@example.com"


async def test_concurrent_twins_create_one_organization(admin_engine, handlers) -> None:
    command = sign_up()
    first, second = await asyncio.gather(
        handlers.organizations.create(command), handlers.organizations.create(command)
    )

    assert first.organization.id == second.organization.id
    assert await counts(admin_engine) == (1, 1, 2)


async def test_login_against_stored_hash(handlers) -> None:
    await handlers.organizations.create(sign_up())

    grant = await handlers.auth.login(Login("ada@example.com", PASSWORD))
    assert grant.access_token.count(".") == 2
    with pytest.raises(InvalidCredentials):
        await handlers.auth.login(Login("ada@example.com", "wrong password"))


async def test_audit_log_is_append_only(engine, handlers) -> None:
    result = await handlers.organizations.create(sign_up())

    async with engine.connect() as conn:
        await set_tenant(conn, result.organization.id)  # its rows, for the trigger to see
        assert await conn.scalar(select(func.count()).select_from(audit_events)) == 1
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("UPDATE audit_events SET action = 'forged'"))
        await conn.rollback()
        await set_tenant(conn, result.organization.id)
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("DELETE FROM audit_events"))
