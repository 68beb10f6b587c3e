"""Webhook signing secrets at rest: sealed in the database, readable across key rotations."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.commands import (
    CreateWebhookEndpoint,
)
from billing.bootstrap import build_handlers
from billing.storage.tables import metadata, webhook_endpoints
from keel_runtime.caller import Caller
from keel_runtime.migrations import reseal_secrets
from keel_runtime.sealing import KEYS_VARIABLE, Keyring, use_keyring
from keel_runtime.sealing import keyring as current_keyring
from keel_runtime.tenancy import set_tenant

from ..serving import serving
from ..unit.conftest import FakeLedger

pytestmark = pytest.mark.integration

FIRST = Keyring.generate("first")
SECOND = Keyring.generate("second")


@pytest.fixture
def keyring() -> Iterator[None]:
    previous = current_keyring()
    use_keyring(FIRST)
    try:
        yield
    finally:
        use_keyring(previous)


async def stored_secrets(engine: AsyncEngine, org_id: str) -> list[str]:
    """What the database holds, read as text (not through the sealed column type)."""
    async with engine.begin() as conn:
        await set_tenant(conn, org_id)
        rows = await conn.execute(text("SELECT signing_secret FROM webhook_endpoints"))
        return [row[0] for row in rows]


async def create_endpoint(engine: AsyncEngine, org_id: str) -> str:
    handlers = serving(build_handlers(engine, FakeLedger()))
    owner = Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))
    _, secret = await handlers.webhooks.create(
        CreateWebhookEndpoint(
            owner, url="https://hooks.example/a", event_types=[], description="", request_id=""
        )
    )
    return secret


async def read_secret(engine: AsyncEngine, org_id: str) -> str:
    async with engine.begin() as conn:
        await set_tenant(conn, org_id)
        return str((await conn.execute(select(webhook_endpoints.c.signing_secret))).scalar_one())


async def test_the_stored_secret_is_sealed_not_plain(engine: AsyncEngine, keyring: None) -> None:
    org_id = str(uuid.uuid4())
    secret = await create_endpoint(engine, org_id)
    [stored] = await stored_secrets(engine, org_id)
    assert secret not in stored
    assert stored.startswith("sealed:v1:first:")
    assert await read_secret(engine, org_id) == secret


async def test_rotation_keeps_old_rows_readable_and_reseal_moves_them_to_the_new_key(
    engine: AsyncEngine,
    keyring: None,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two organizations: the reseal (run by the owner, whom row-level security holds too)
    # must reach every organization's rows.
    secrets = {}
    for _ in range(2):
        org_id = str(uuid.uuid4())
        secrets[org_id] = await create_endpoint(engine, org_id)
    # Rotate: the new key first, the old one kept.
    rotated = Keyring.parse(f"{SECOND.setting()},{FIRST.setting()}")
    use_keyring(rotated)
    for org_id, secret in secrets.items():
        assert await read_secret(engine, org_id) == secret
    # `migrate` reseals what the newest key did not seal (as the owner role).
    monkeypatch.setenv(KEYS_VARIABLE, rotated.setting())
    reseal_secrets(database_url, metadata)
    use_keyring(SECOND)  # the old key can now go
    for org_id, secret in secrets.items():
        [stored] = await stored_secrets(engine, org_id)
        assert stored.startswith("sealed:v1:second:")
        assert await read_secret(engine, org_id) == secret
    # FORCE is back on the table once the reseal is done.
    async with engine.connect() as conn:
        forced = await conn.scalar(
            text("SELECT relforcerowsecurity FROM pg_class WHERE relname = 'webhook_endpoints'")
        )
    assert forced is True
