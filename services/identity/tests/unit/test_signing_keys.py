"""Signing keys: rotation keeps the previous key published until its tokens expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from identity.adapters.crypto import keys
from identity.adapters.crypto.tokens import PUBLISH_LEAD, JwtTokenService
from identity.app.commands import RotateSigningKey
from identity.app.ports import AccessClaims
from identity.domain.errors import InvalidAccessToken
from identity.domain.roles import Role
from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused

SERVICE = Caller("ops", "", frozenset(), frozenset(), "service")


def claims(world) -> AccessClaims:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)  # jwt checks iat and exp against the real clock
    return AccessClaims(
        "u1", "o1", ("MEMBER",), ("read",), "user", now, now + timedelta(minutes=15), "j1"
    )


async def rotate(world):  # type: ignore[no-untyped-def]
    # The fake clock stands still: keys made in one test would share a creation time.
    world.clock.advance(seconds=1)
    return await world.handlers.auth.rotate_signing_key(RotateSigningKey(SERVICE))


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def published_kids(world) -> set[str]:  # type: ignore[no-untyped-def]
    return {k["kid"] for k in (await world.handlers.auth.jwks())["keys"]}


async def test_a_new_key_is_published_before_it_signs(world) -> None:
    old_token = await world.tokens.sign(claims(world))

    rotation = await rotate(world)

    assert rotation.retired_key_id == kid(old_token) and rotation.active_key_id != kid(old_token)
    assert rotation.active_from == world.clock.now() + PUBLISH_LEAD
    # Published at once, but verifiers that cached the JWKS just before have not seen it:
    # tokens issued right after the rotation are still signed with the key they know.
    jwks_at_rotation = await published_kids(world)
    assert jwks_at_rotation == {kid(old_token), rotation.active_key_id}
    just_after = await world.tokens.sign(claims(world))
    assert kid(just_after) == kid(old_token)

    world.clock.advance(seconds=PUBLISH_LEAD.total_seconds())
    later = await world.tokens.sign(claims(world))
    assert kid(later) == rotation.active_key_id and kid(later) in jwks_at_rotation
    for token in (old_token, just_after, later):
        assert (await world.tokens.verify(token)).subject == "u1"
    assert (await world.decode(later))["sub"] == "u1"


async def test_retired_keys_leave_the_jwks_after_their_tokens_expired(world) -> None:
    rotation = await rotate(world)

    world.clock.advance(seconds=PUBLISH_LEAD.total_seconds())
    world.clock.advance(minutes=21)
    assert await published_kids(world) == {rotation.active_key_id}


async def test_the_jwks_never_holds_more_than_current_next_and_previous(world) -> None:
    first = await world.tokens.sign(claims(world))
    for _ in range(10):  # an operator hammering the button: the next key is replaced
        await rotate(world)
    assert len(await published_kids(world)) == 2
    assert (await world.tokens.verify(first)).subject == "u1"

    for _ in range(6):
        before = await world.tokens.sign(claims(world))
        await rotate(world)
        after = await world.tokens.sign(claims(world))
        world.clock.advance(seconds=PUBLISH_LEAD.total_seconds())
        assert len(await published_kids(world)) <= 3
        for token in (before, after):
            assert (await world.tokens.verify(token)).subject == "u1"


async def test_only_the_platform_rotates(world) -> None:
    owner = Caller("u", "o", frozenset({Role.OWNER}), frozenset(), "user")

    with pytest.raises(CallerRefused):
        await world.handlers.auth.rotate_signing_key(RotateSigningKey(owner))


async def test_tokens_for_another_audience_are_rejected(world) -> None:
    elsewhere = JwtTokenService(
        world.keys,
        world.clock,
        issuer="keel-identity-test",
        audience="elsewhere",
        retired_key_lifetime=timedelta(minutes=20),
    )
    token = await world.tokens.sign(claims(world))

    with pytest.raises(InvalidAccessToken):
        await elsewhere.verify(token)


async def test_algorithm_confusion_is_rejected(world) -> None:
    token = await world.tokens.sign(claims(world))
    kid = jwt.get_unverified_header(token)["kid"]
    payload = jwt.decode(token, options={"verify_signature": False})
    # HMAC "signed" with the public key, the classic confusion attack.
    public_x = next(k["x"] for k in (await world.handlers.auth.jwks())["keys"] if k["kid"] == kid)
    forged = jwt.encode(payload, public_x.ljust(32, "="), algorithm="HS256", headers={"kid": kid})

    with pytest.raises(InvalidAccessToken):
        await world.tokens.verify(forged)


def test_private_keys_can_be_encrypted_at_rest() -> None:
    key = keys.generate(datetime.now(UTC), passphrase=b"s3cret")

    assert "ENCRYPTED PRIVATE KEY" in key.private_key_pem
    signer = keys.load_private(key, b"s3cret")
    assert keys.public_jwk(signer.public_key()) == key.public_jwk
    with pytest.raises((TypeError, ValueError)):
        keys.load_private(key)
