"""Login: argon2id verification, uniform failures, JWT claims, refresh rotation."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from identity.app.commands import (
    CreateOrganization,
    GetCurrentUser,
    Login,
    RefreshSession,
)
from identity.domain.errors import (
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenReused,
)
from identity.domain.roles import Role
from keel_runtime.caller import Caller

PASSWORD = "correct horse battery"


async def signed_up(world, email: str = "ada@example.com"):  # type: ignore[no-untyped-def]
    return await world.handlers.organizations.create(
        CreateOrganization(
            display_name="Engines",
            owner_email=email,
            owner_password=PASSWORD,
            request_id=str(uuid.uuid4()),
        )
    )


async def test_login_issues_signed_access_token_with_claims(world) -> None:
    result = await signed_up(world)
    grant = await world.handlers.auth.login(
        Login("ADA@example.com", PASSWORD, client_address="1.2.3.4")
    )

    claims = await world.decode(grant.access_token)
    assert claims["sub"] == result.owner.id
    assert claims["org"] == result.organization.id
    assert claims["roles"] == ["OWNER"]
    assert claims["kind"] == "user"
    assert "admin" in str(claims["scope"]).split()
    assert claims["exp"] - claims["iat"] == 15 * 60  # type: ignore[operator]
    assert claims["iat"] <= time.time() + 1  # type: ignore[operator]
    assert uuid.UUID(str(claims["jti"]))
    assert jwt.get_unverified_header(grant.access_token)["alg"] == "EdDSA"
    assert grant.expires_in == 900
    assert grant.refresh_token.startswith("krt_")
    assert world.throttle.successes == [(result.owner.id, "1.2.3.4")]
    assert [e.action for e in world.db.state.audit][-1] == "user.login"


async def test_wrong_password_and_unknown_email_fail_alike(world) -> None:
    await signed_up(world)

    with pytest.raises(InvalidCredentials) as wrong_password:
        await world.handlers.auth.login(Login("ada@example.com", "not the password"))
    with pytest.raises(InvalidCredentials) as unknown_email:
        await world.handlers.auth.login(Login("nobody@example.com", PASSWORD))

    assert wrong_password.value.reason == unknown_email.value.reason == "INVALID_CREDENTIALS"
    assert str(wrong_password.value) == str(unknown_email.value)
    assert len(world.throttle.admitted) == 2
    assert world.throttle.successes == []
    # Only the attempt on a known account has an organization to be audited in.
    await world.handlers.auth.settled()
    assert [e.action for e in world.db.state.audit].count("user.login_failed") == 1


async def test_current_user_comes_from_the_principal(world) -> None:
    result = await signed_up(world)
    owner = result.owner
    actor = Caller(owner.id, owner.organization_id, frozenset({Role.OWNER}), frozenset(), "user")

    assert (await world.handlers.users.get_current(GetCurrentUser(actor))).email == owner.email


async def test_refresh_rotates_and_reuse_revokes_the_family(world) -> None:
    await signed_up(world)
    first = await world.handlers.auth.login(Login("ada@example.com", PASSWORD))
    second = await world.handlers.auth.refresh(RefreshSession(first.refresh_token))
    assert second.refresh_token != first.refresh_token

    world.clock.advance(seconds=60)  # beyond the grace: a replay is theft
    with pytest.raises(RefreshTokenReused):
        await world.handlers.auth.refresh(RefreshSession(first.refresh_token))
    # The legitimate holder's token died with the family.
    with pytest.raises(InvalidRefreshToken):
        await world.handlers.auth.refresh(RefreshSession(second.refresh_token))


async def test_reuse_within_grace_is_a_lost_response(world) -> None:
    await signed_up(world)
    first = await world.handlers.auth.login(Login("ada@example.com", PASSWORD))
    lost = await world.handlers.auth.refresh(RefreshSession(first.refresh_token))

    world.clock.advance(seconds=2)
    retried = await world.handlers.auth.refresh(RefreshSession(first.refresh_token))

    assert await world.handlers.auth.refresh(RefreshSession(retried.refresh_token))
    with pytest.raises(InvalidRefreshToken):
        await world.handlers.auth.refresh(RefreshSession(lost.refresh_token))


async def test_unknown_refresh_token_is_invalid(world) -> None:
    with pytest.raises(InvalidRefreshToken):
        await world.handlers.auth.refresh(RefreshSession("krt_nope"))
