"""Private signing keys at rest: sealed with the data key, never a PEM in the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from identity.adapters.crypto.tokens import JwtTokenService
from identity.storage.signing_keys import SqlSigningKeyStore
from keel_runtime.sealing import Keyring, SealingError, keyring, use_keyring

pytestmark = pytest.mark.integration

EVER = datetime.min.replace(tzinfo=UTC)


async def test_the_stored_private_key_is_sealed_and_opens(
    engine: AsyncEngine, tokens: JwtTokenService
) -> None:
    async with engine.connect() as conn:
        [stored] = (await conn.execute(text("SELECT private_key_pem FROM signing_keys"))).scalars()
    assert stored.startswith("sealed:v1:")
    assert "PRIVATE KEY" not in stored
    [key] = await SqlSigningKeyStore(engine).load(retired_since=EVER)
    assert key.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")


async def test_without_its_data_key_a_stored_key_does_not_open(
    engine: AsyncEngine, tokens: JwtTokenService
) -> None:
    ours = keyring()
    use_keyring(Keyring.generate("someone-else"))
    try:
        with pytest.raises(SealingError, match="not in DATA_ENCRYPTION_KEYS"):
            await SqlSigningKeyStore(engine).load(retired_since=EVER)
    finally:
        use_keyring(ours)
