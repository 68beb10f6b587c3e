"""Refresh rotation, API keys, listing and signing keys against PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from identity.adapters.crypto import keys
from identity.app.commands import (
    AuthenticateApiKey,
    CreateApiKey,
    CreateOrganization,
    CreateUser,
    ListAuditEvents,
    ListUsers,
    Login,
    RefreshSession,
    RevokeApiKey,
)
from identity.domain.errors import InvalidApiKey, InvalidRefreshToken, RefreshTokenReused
from identity.domain.roles import Role
from identity.storage.retention import RetentionPolicy, purge
from identity.storage.signing_keys import SqlSigningKeyStore
from identity.storage.tables import refresh_tokens
from keel_runtime.caller import Caller
from keel_runtime.tenancy import set_tenant

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
SERVICE = Caller("gateway", "", frozenset(), frozenset(), "service")


async def owner(handlers) -> Caller:  # type: ignore[no-untyped-def]
    result = await handlers.organizations.create(
        CreateOrganization("Engines", "owner@example.com", PASSWORD, request_id=str(uuid.uuid4()))
    )
    return Caller(
        result.owner.id, result.organization.id, frozenset({Role.OWNER}), frozenset(), "user"
    )


async def test_refresh_rotation_and_reuse_detection(engine, handlers) -> None:
    actor = await owner(handlers)
    first = await handlers.auth.login(Login("owner@example.com", PASSWORD))
    second = await handlers.auth.refresh(RefreshSession(first.refresh_token))
    # Age the spent token past the grace window, as if the replay came a minute later.
    async with engine.begin() as conn:
        await set_tenant(conn, actor.org_id)
        await conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.used_at.is_not(None))
            .values(used_at=datetime.now(UTC) - timedelta(minutes=1))
        )

    with pytest.raises(RefreshTokenReused):
        await handlers.auth.refresh(RefreshSession(first.refresh_token))
    with pytest.raises(InvalidRefreshToken):
        await handlers.auth.refresh(RefreshSession(second.refresh_token))
    async with engine.connect() as conn:
        await set_tenant(conn, actor.org_id)
        revoked = (await conn.execute(select(refresh_tokens.c.revoked_at))).scalars().all()
    assert len(revoked) == 2 and all(revoked)


async def test_concurrent_refreshes_rotate_once(handlers) -> None:
    await owner(handlers)
    grant = await handlers.auth.login(Login("owner@example.com", PASSWORD))

    results = await asyncio.gather(
        handlers.auth.refresh(RefreshSession(grant.refresh_token)),
        handlers.auth.refresh(RefreshSession(grant.refresh_token)),
        return_exceptions=True,
    )
    # The row lock serializes them: the second is a replay within the grace window,
    # which retires the first successor and issues another one.
    successes = [r for r in results if not isinstance(r, BaseException)]
    assert len(successes) == 2
    outcomes = []
    for r in successes:
        try:
            await handlers.auth.refresh(RefreshSession(r.refresh_token))
            outcomes.append("ok")
        except InvalidRefreshToken:
            outcomes.append("revoked")
    assert sorted(outcomes) == ["ok", "revoked"]


async def test_api_key_lifecycle(handlers) -> None:
    actor = await owner(handlers)
    created = await handlers.api_keys.create(
        CreateApiKey(actor, "ci", scopes=frozenset({"items:read"}))
    )

    auth = await handlers.api_keys.authenticate(AuthenticateApiKey(SERVICE, created.secret))
    assert auth.api_key.id == created.api_key.id
    await handlers.api_keys.revoke(RevokeApiKey(actor, created.api_key.id))
    with pytest.raises(InvalidApiKey):
        await handlers.api_keys.authenticate(AuthenticateApiKey(SERVICE, created.secret))


async def test_users_page_and_audit_trail(handlers) -> None:
    actor = await owner(handlers)
    for n in range(3):
        await handlers.users.create(CreateUser(actor, f"u{n}@example.com", PASSWORD))

    page, token = await handlers.users.list(ListUsers(actor, page_size=2))
    rest, end = await handlers.users.list(ListUsers(actor, page_size=2, page_token=token))
    assert len(page) == 2 and len(rest) == 2 and not end
    assert len({u.id for u in page + rest}) == 4

    events, _ = await handlers.audit.list(ListAuditEvents(actor, action="user.created"))
    assert len(events) == 3 and all(e.actor == actor.subject for e in events)


async def test_first_start_creates_exactly_one_key(engine) -> None:
    store = SqlSigningKeyStore(engine)

    def make() -> keys.SigningKey:
        return keys.generate(datetime.now(UTC))

    made = await asyncio.gather(*(store.ensure_active(make) for _ in range(4)))
    assert len({k.kid for k in made}) == 1
    assert len(await store.load(datetime.now(UTC))) == 1


async def test_retention_purges_old_sessions_and_request_ids(engine, handlers) -> None:
    await owner(handlers)
    grant = await handlers.auth.login(Login("owner@example.com", PASSWORD))
    await handlers.auth.refresh(RefreshSession(grant.refresh_token))

    policy = RetentionPolicy()
    assert await purge(engine, datetime.now(UTC), policy) == (0, 0)
    later = datetime.now(UTC) + timedelta(days=40)
    # Both refresh tokens have expired by then; the sign-up's request id is forgotten.
    assert await purge(engine, later, policy) == (2, 1)
