"""Registering an asset: one round trip, and right when two transactions register it at once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.domain.model import Asset
from ledger.storage.accounts import SqlAccounts

pytestmark = pytest.mark.integration


def new_code() -> str:
    return "T" + uuid.uuid4().hex[:8].upper()


async def test_a_new_asset_and_a_known_one_give_the_registered_scale(engine: AsyncEngine) -> None:
    code = new_code()
    async with engine.begin() as conn:
        assert await SqlAccounts(conn).register_asset(Asset(code, 3)) == 3
    async with engine.begin() as conn:
        # Registered before at 3: the ledger's scale wins over the one asked for.
        assert await SqlAccounts(conn).register_asset(Asset(code, 5)) == 3


async def test_an_asset_registered_by_a_concurrent_transaction_is_read_after_its_commit(
    engine: AsyncEngine,
) -> None:
    code = new_code()
    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        await second.begin()
        assert await SqlAccounts(first).register_asset(Asset(code, 4)) == 4
        # The second waits on the first's uncommitted row; its statement's snapshot is
        # older than the first's commit, so it must look again rather than find nothing.
        waiting = asyncio.create_task(SqlAccounts(second).register_asset(Asset(code, 4)))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await first.commit()
        assert await asyncio.wait_for(waiting, 10) == 4
        await second.commit()
