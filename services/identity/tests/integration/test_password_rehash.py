"""Stored password hashes follow the configured argon2id parameters, upgraded on login."""

from __future__ import annotations

import uuid

import pytest
from argon2 import extract_parameters
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from identity.adapters.clock import SystemClock
from identity.adapters.crypto.passwords import Argon2Hasher, Argon2Params
from identity.adapters.crypto.tokens import JwtTokenService
from identity.adapters.throttle import NoThrottle
from identity.app.commands import CreateOrganization, Login
from identity.app.handlers import build_handlers
from identity.app.sessions import SessionPolicy
from identity.storage.tables import users
from identity.storage.uow import SqlUnitOfWork
from keel_runtime.tenancy import set_tenant

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
# What identity hashed with before: RFC 9106's second recommendation, ~220 ms a login.
PREVIOUS_DEFAULT = Argon2Params(time_cost=3, memory_cost_kib=65536, parallelism=4)


def handlers_with(engine: AsyncEngine, tokens: JwtTokenService, params: Argon2Params):  # type: ignore[no-untyped-def]
    return build_handlers(
        uow=lambda: SqlUnitOfWork(engine),
        hasher=Argon2Hasher(params),
        tokens=tokens,
        throttle=NoThrottle(),
        clock=SystemClock(),
        policy=SessionPolicy(),
    )


async def stored_hash(engine: AsyncEngine, organization_id: str) -> str:
    async with engine.connect() as conn:
        await set_tenant(conn, organization_id)
        return str((await conn.execute(select(users.c.password_hash))).scalar_one())


def test_default_parameters_meet_owasp_minimum() -> None:
    """OWASP's argon2id floor is m=19 MiB, t=2, p=1 (or a row with more memory)."""
    params = Argon2Params()
    assert params.memory_cost_kib >= 19 * 1024
    assert params.time_cost >= 2 or params.memory_cost_kib >= 46 * 1024
    assert params.parallelism >= 1


async def test_login_upgrades_a_hash_made_with_the_previous_parameters(engine, tokens) -> None:
    before = handlers_with(engine, tokens, PREVIOUS_DEFAULT)
    signed_up = await before.organizations.create(
        CreateOrganization("Engines", "owner@example.com", PASSWORD, request_id=str(uuid.uuid4()))
    )
    org = signed_up.organization.id
    old = extract_parameters(await stored_hash(engine, org))
    assert (old.memory_cost, old.time_cost, old.parallelism) == (65536, 3, 4)

    now = handlers_with(engine, tokens, Argon2Params())
    await now.auth.login(Login("owner@example.com", PASSWORD))

    upgraded = await stored_hash(engine, org)
    params = extract_parameters(upgraded)
    default = Argon2Params()
    assert (params.memory_cost, params.time_cost, params.parallelism) != (65536, 3, 4)
    assert (params.memory_cost, params.time_cost, params.parallelism) == (
        default.memory_cost_kib,
        default.time_cost,
        default.parallelism,
    )
    # The upgraded hash still checks the same password, and is not replaced again.
    await now.auth.login(Login("owner@example.com", PASSWORD))
    assert await stored_hash(engine, org) == upgraded
