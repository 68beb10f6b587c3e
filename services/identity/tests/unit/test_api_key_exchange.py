"""The public API key exchange: the key alone buys a short-lived token with its scopes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from identity.app.api_keys import API_KEY_TOKEN_TTL, generate_key
from identity.app.commands import (
    CreateApiKey,
    CreateOrganization,
    ExchangeApiKey,
    RevokeApiKey,
)
from identity.domain.errors import InvalidApiKey
from identity.domain.roles import Role
from keel_runtime.caller import Caller


async def owner_of_new_org(world) -> Caller:  # type: ignore[no-untyped-def]
    result = await world.handlers.organizations.create(
        CreateOrganization(
            "Engines", "owner@example.com", "correct horse battery", request_id=str(uuid.uuid4())
        )
    )
    return Caller(
        result.owner.id, result.organization.id, frozenset({Role.OWNER}), frozenset(), "user"
    )


async def test_a_valid_key_buys_a_token_with_its_scopes_and_roles(world) -> None:
    owner = await owner_of_new_org(world)
    created = await world.handlers.api_keys.create(
        CreateApiKey(
            owner,
            "reader",
            scopes=frozenset({"items:read", "ledger:read"}),
            roles=frozenset({Role.READ_ONLY}),
        )
    )
    key = created.api_key

    exchanged = await world.handlers.api_keys.exchange(ExchangeApiKey(created.secret))

    claims = await world.decode(exchanged.access_token)
    assert claims["kind"] == "api_key"
    assert claims["sub"] == key.id and claims["org"] == owner.org_id
    assert claims["scope"] == "items:read ledger:read"
    assert claims["roles"] == ["READ_ONLY"]
    assert exchanged.expires_in == int(API_KEY_TOKEN_TTL.total_seconds())
    assert exchanged.access_expires_at == world.clock.now() + API_KEY_TOKEN_TTL
    assert world.db.state.api_keys[key.id].last_used_at == world.clock.now()


async def test_revoked_expired_unknown_and_garbage_keys_fail_alike(world) -> None:
    owner = await owner_of_new_org(world)
    revoked = await world.handlers.api_keys.create(CreateApiKey(owner, "revoked"))
    await world.handlers.api_keys.revoke(RevokeApiKey(owner, revoked.api_key.id))
    expiring = await world.handlers.api_keys.create(
        CreateApiKey(owner, "expiring", expires_at=world.clock.now() + timedelta(minutes=1))
    )
    world.clock.advance(minutes=2)
    unknown, _ = generate_key()
    tampered = (
        revoked.secret[:-7] + ("A" if revoked.secret[-7] != "A" else "B") + revoked.secret[-6:]
    )

    messages = set()
    for presented in (revoked.secret, expiring.secret, unknown, tampered, "garbage"):
        with pytest.raises(InvalidApiKey) as refused:
            await world.handlers.api_keys.exchange(ExchangeApiKey(presented))
        assert refused.value.reason == "INVALID_API_KEY"
        messages.add(refused.value.message)
    # One message for every cause: the answer must not tell which keys exist.
    assert len(messages) == 1
    assert world.db.state.api_keys[revoked.api_key.id].last_used_at is None
