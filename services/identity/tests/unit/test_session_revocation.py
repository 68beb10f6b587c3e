"""Sessions end everywhere: access tokens name their session, and every way a session or
a key is revoked records the event that reaches the services' deny sets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import jwt
import pytest
from keel.identity.v1 import events_pb2

from identity.app.commands import (
    ChangePassword,
    CreateApiKey,
    CreateOrganization,
    CreateUser,
    DeactivateUser,
    ExchangeApiKey,
    Login,
    Logout,
    RefreshSession,
    RevokeApiKey,
)
from identity.app.support import sha256_hex
from identity.domain import events
from identity.domain.errors import RefreshTokenReused
from identity.domain.roles import Role
from identity.events.codec import SESSION_REVOKED, to_envelope
from keel_runtime.caller import Caller
from keel_runtime.events import unpack

PASSWORD = "correct horse battery"
Reason = events.SessionRevocationReason


async def owner_of_new_org(world) -> Caller:  # type: ignore[no-untyped-def]
    result = await world.handlers.organizations.create(
        CreateOrganization("Engines", "ada@example.com", PASSWORD, request_id=str(uuid.uuid4()))
    )
    return Caller(
        result.owner.id, result.organization.id, frozenset({Role.OWNER}), frozenset(), "user"
    )


def revoked_sessions(world) -> list[events.SessionRevoked]:  # type: ignore[no-untyped-def]
    return [e for e in world.db.state.events if isinstance(e, events.SessionRevoked)]


def family_of(world, refresh_token: str) -> str:  # type: ignore[no-untyped-def]
    family: str = world.db.state.refresh_tokens[sha256_hex(refresh_token)].family_id
    return family


async def test_access_tokens_name_their_session_which_refreshing_keeps(world) -> None:
    await owner_of_new_org(world)
    first = await world.handlers.auth.login(Login("ada@example.com", PASSWORD))
    claims = await world.decode(first.access_token)
    assert claims["sid"] == family_of(world, first.refresh_token)

    refreshed = await world.handlers.auth.refresh(RefreshSession(first.refresh_token))
    assert (await world.decode(refreshed.access_token))["sid"] == claims["sid"]

    other = await world.handlers.auth.login(Login("ada@example.com", PASSWORD))
    assert (await world.decode(other.access_token))["sid"] != claims["sid"]


async def test_api_key_tokens_have_no_session_and_name_the_key(world) -> None:
    owner = await owner_of_new_org(world)
    created = await world.handlers.api_keys.create(CreateApiKey(owner, "ci"))
    exchanged = await world.handlers.api_keys.exchange(ExchangeApiKey(created.secret))
    claims = await world.decode(exchanged.access_token)
    assert (claims["kind"], claims["sub"]) == ("api_key", created.api_key.id)
    assert "sid" not in claims


async def test_logout_revokes_the_session(world) -> None:
    owner = await owner_of_new_org(world)
    grant = await world.handlers.auth.login(Login("ada@example.com", PASSWORD))
    sid = (await world.decode(grant.access_token))["sid"]

    await world.handlers.auth.logout(Logout(owner, grant.refresh_token))

    assert revoked_sessions(world) == [
        events.SessionRevoked(sid, owner.subject, owner.org_id, Reason.LOGOUT, world.clock.now())
    ]


async def test_refresh_token_reuse_revokes_the_session(world) -> None:
    await owner_of_new_org(world)
    first = await world.handlers.auth.login(Login("ada@example.com", PASSWORD))
    sid = (await world.decode(first.access_token))["sid"]
    await world.handlers.auth.refresh(RefreshSession(first.refresh_token))

    world.clock.advance(seconds=2)  # within the grace: a lost response, nothing revoked
    retried = await world.handlers.auth.refresh(RefreshSession(first.refresh_token))
    assert revoked_sessions(world) == []
    # Read, not verified: the test clock runs ahead of the verifier's.
    assert jwt.decode(retried.access_token, options={"verify_signature": False})["sid"] == sid

    world.clock.advance(seconds=60)  # a replay: the thief's and the owner's tokens end
    with pytest.raises(RefreshTokenReused):
        await world.handlers.auth.refresh(RefreshSession(first.refresh_token))
    [revoked] = revoked_sessions(world)
    assert (revoked.session_id, revoked.reason) == (sid, Reason.REFRESH_TOKEN_REUSED)


async def test_a_password_change_revokes_every_live_session(world) -> None:
    owner = await owner_of_new_org(world)
    laptop = await world.handlers.auth.login(Login("ada@example.com", PASSWORD))
    phone = await world.handlers.auth.login(Login("ada@example.com", PASSWORD))
    gone = await world.handlers.auth.login(Login("ada@example.com", PASSWORD))
    await world.handlers.auth.logout(Logout(owner, gone.refresh_token))
    sids = {(await world.decode(g.access_token))["sid"] for g in (laptop, phone)}

    await world.handlers.users.change_password(
        ChangePassword(owner, PASSWORD, "brand new password")
    )

    changed = [e for e in revoked_sessions(world) if e.reason is Reason.PASSWORD_CHANGED]
    assert {e.session_id for e in changed} == sids


async def test_deactivation_and_key_revocation_record_what_the_deny_set_needs(world) -> None:
    owner = await owner_of_new_org(world)
    bob = await world.handlers.users.create(
        CreateUser(owner, "bob@example.com", PASSWORD, roles=frozenset({Role.ADMIN}))
    )
    key = await world.handlers.api_keys.create(CreateApiKey(owner, "ci"))
    await world.handlers.api_keys.revoke(RevokeApiKey(owner, key.api_key.id))
    await world.handlers.users.deactivate(DeactivateUser(owner, bob.id))

    now = world.clock.now()
    recorded = world.db.state.events
    assert events.ApiKeyRevoked(key.api_key.id, owner.org_id, now) in recorded
    assert events.UserDeactivated(bob.id, owner.org_id, now) in recorded


def test_session_revoked_travels_as_its_own_event() -> None:
    event = events.SessionRevoked(
        "s-1", "u-1", "o-1", Reason.REFRESH_TOKEN_REUSED, datetime.now(UTC)
    )
    envelope = to_envelope(event)
    assert (envelope.type, envelope.subject, envelope.org_id) == (SESSION_REVOKED, "s-1", "o-1")
    payload = unpack(envelope, events_pb2.SessionRevoked)
    assert (payload.session_id, payload.user_id, payload.organization_id) == ("s-1", "u-1", "o-1")
    assert payload.reason == events_pb2.SESSION_REVOCATION_REASON_REFRESH_TOKEN_REUSED
    assert payload.revoke_time.seconds > 0
