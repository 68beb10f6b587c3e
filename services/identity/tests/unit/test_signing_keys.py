"""Signing keys: rotation keeps the previous key published until its tokens expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from identity.app.commands import RotateSigningKey
from identity.app.ports import AccessClaims
from identity.crypto import keys
from identity.crypto.tokens import JwtTokenService
from identity.domain.errors import InsufficientRole, InvalidAccessToken
from identity.domain.model import Actor
from identity.domain.roles import Role

SERVICE = Actor("ops", "", frozenset(), frozenset(), "service")


def claims(world) -> AccessClaims:  # type: ignore[no-untyped-def]
    now = world.clock.now()
    return AccessClaims(
        "u1", "o1", ("MEMBER",), ("read",), "user", now, now + timedelta(minutes=15), "j1"
    )


async def test_rotation_keeps_old_tokens_verifiable(world) -> None:
    old_token = await world.tokens.sign(claims(world))
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    rotation = await world.handlers.rotate_signing_key(RotateSigningKey(SERVICE))

    assert rotation.retired_key_id == old_kid and rotation.active_key_id != old_kid
    new_token = await world.tokens.sign(claims(world))
    assert jwt.get_unverified_header(new_token)["kid"] == rotation.active_key_id
    kids = {k["kid"] for k in (await world.handlers.get_jwks())["keys"]}
    assert kids == {old_kid, rotation.active_key_id}
    assert (await world.tokens.verify(old_token)).subject == "u1"
    assert (await world.decode(new_token))["sub"] == "u1"


async def test_retired_keys_leave_the_jwks_after_their_tokens_expired(world) -> None:
    rotation = await world.handlers.rotate_signing_key(RotateSigningKey(SERVICE))

    world.clock.advance(minutes=21)
    kids = {k["kid"] for k in (await world.handlers.get_jwks())["keys"]}
    assert kids == {rotation.active_key_id}


async def test_only_owners_or_services_rotate(world) -> None:
    member = Actor("u", "o", frozenset({Role.ADMIN}), frozenset(), "user")

    with pytest.raises(InsufficientRole):
        await world.handlers.rotate_signing_key(RotateSigningKey(member))


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
    public_x = next(k["x"] for k in (await world.handlers.get_jwks())["keys"] if k["kid"] == kid)
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
