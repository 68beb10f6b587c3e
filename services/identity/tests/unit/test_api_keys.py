"""API keys: format with checksum, secret shown once, authentication, revocation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from identity.app.api_keys import generate_key, parse_key
from identity.app.commands import (
    AuthenticateApiKey,
    CreateApiKey,
    CreateOrganization,
    IntrospectToken,
    ListApiKeys,
    Login,
    RevokeApiKey,
)
from identity.domain import events
from identity.domain.errors import InvalidApiKey
from identity.domain.roles import Role
from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused

SERVICE = Caller("gateway", "", frozenset(), frozenset(), "service")


async def owner_of_new_org(world) -> Caller:  # type: ignore[no-untyped-def]
    result = await world.handlers.organizations.create(
        CreateOrganization(
            "Engines", "owner@example.com", "correct horse battery", request_id=str(uuid.uuid4())
        )
    )
    return Caller(
        result.owner.id, result.organization.id, frozenset({Role.OWNER}), frozenset(), "user"
    )


def test_keys_carry_a_checksum() -> None:
    key, prefix = generate_key()

    assert key.startswith(prefix + "_") and prefix.startswith("keel_")
    assert parse_key(key) == prefix
    typo = key[:-10] + ("A" if key[-10] != "A" else "B") + key[-9:]
    assert parse_key(typo) is None
    assert parse_key("keel_short") is None


async def test_create_authenticate_and_revoke(world) -> None:
    owner = await owner_of_new_org(world)
    created = await world.handlers.api_keys.create(
        CreateApiKey(owner, "ci", scopes=frozenset({"items:write"}))
    )
    key = created.api_key
    assert created.secret and key.secret_hash not in created.secret
    assert created.secret.startswith(key.prefix)
    assert isinstance(world.db.state.events[-1], events.ApiKeyCreated)

    auth = await world.handlers.api_keys.authenticate(AuthenticateApiKey(SERVICE, created.secret))
    claims = await world.decode(auth.access_token)
    assert (claims["sub"], claims["kind"], claims["scope"]) == (key.id, "api_key", "items:write")
    assert claims["org"] == owner.org_id
    introspected = await world.handlers.auth.introspect(IntrospectToken(SERVICE, created.secret))
    assert introspected.active and introspected.kind == "api_key"

    await world.handlers.api_keys.revoke(RevokeApiKey(owner, key.id))
    with pytest.raises(InvalidApiKey):
        await world.handlers.api_keys.authenticate(AuthenticateApiKey(SERVICE, created.secret))
    assert not (
        await world.handlers.auth.introspect(IntrospectToken(SERVICE, created.secret))
    ).active
    listed, _ = await world.handlers.api_keys.list(ListApiKeys(owner))
    assert listed == []


async def test_expired_keys_do_not_authenticate(world) -> None:
    owner = await owner_of_new_org(world)
    created = await world.handlers.api_keys.create(
        CreateApiKey(owner, "short", expires_at=world.clock.now() + timedelta(minutes=1))
    )

    world.clock.advance(minutes=2)
    with pytest.raises(InvalidApiKey):
        await world.handlers.api_keys.authenticate(AuthenticateApiKey(SERVICE, created.secret))


async def test_a_key_cannot_exceed_its_creators_roles(world) -> None:
    owner = await owner_of_new_org(world)
    admin = Caller("a", owner.org_id, frozenset({Role.ADMIN}), frozenset(), "user")

    with pytest.raises(CallerRefused):
        await world.handlers.api_keys.create(
            CreateApiKey(admin, "too much", roles=frozenset({Role.OWNER}))
        )


async def test_introspection_of_access_tokens(world) -> None:
    await owner_of_new_org(world)
    grant = await world.handlers.auth.login(Login("owner@example.com", "correct horse battery"))

    active = await world.handlers.auth.introspect(IntrospectToken(SERVICE, grant.access_token))
    assert active.active and active.subject == grant.user_id and active.roles == ("OWNER",)
    forged = grant.access_token[:-4] + "AAAA"
    assert not (await world.handlers.auth.introspect(IntrospectToken(SERVICE, forged))).active


async def test_only_services_authenticate_keys(world) -> None:
    owner = await owner_of_new_org(world)
    created = await world.handlers.api_keys.create(CreateApiKey(owner, "ci"))

    with pytest.raises(CallerRefused):
        await world.handlers.api_keys.authenticate(AuthenticateApiKey(owner, created.secret))
    with pytest.raises(CallerRefused):
        await world.handlers.auth.introspect(IntrospectToken(owner, created.secret))
