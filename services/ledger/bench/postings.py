"""Postings/s through the ledger's handlers on real PostgreSQL, against an in-run baseline.

    .venv/bin/python services/ledger/bench/postings.py [postgres admin URL]

Each scenario runs for a few seconds on a fresh database: one posting per database
transaction, the group committer, and the atomic batch. The baseline (one INSERT + COMMIT
per round trip on one connection) is measured in the same run because this machine's
speed varies by up to 3x from minute to minute.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from keel_runtime.caller import Caller
from keel_runtime.db import PLATFORM, create_engine
from ledger.app import commands
from ledger.app.accounts import AccountHandlers
from ledger.app.group_commit import GroupCommitter
from ledger.app.transactions import TransactionHandlers
from ledger.domain.model import AccountKind, Asset, Posting, Side
from ledger.events.codec import encode
from ledger.storage.schema import SCHEMA
from ledger.storage.uow import SqlUnitOfWork

SECONDS = 4.0


def now() -> datetime:
    return datetime.now(UTC)


async def baseline(url: str) -> float:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute("CREATE TABLE baseline (id uuid PRIMARY KEY)")
        await conn.commit()
        count, stop = 0, time.monotonic() + SECONDS
        while time.monotonic() < stop:
            await conn.execute("INSERT INTO baseline VALUES (%s)", (uuid.uuid4(),))
            await conn.commit()
            count += 1
    return count / SECONDS


async def run(workers: int, step: Callable[[], Awaitable[int]]) -> float:
    count, stop = 0, time.monotonic() + SECONDS

    async def worker() -> None:
        nonlocal count
        while time.monotonic() < stop:
            done = await step()  # not `count += await ...`: that reads count before awaiting
            count += done

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return count / (time.monotonic() - started)


ONE_PER_TX = "one per transaction, 8 concurrent"
GROUP_COMMIT = "group commit, 64 concurrent"
BATCH = "atomic batch of 50, 1 at a time"


async def scenario(
    url: str, n_accounts: int, only: tuple[str, ...] = (ONE_PER_TX, GROUP_COMMIT, BATCH)
) -> dict[str, float]:
    """Postings/s of each scenario in ``only`` (labels above), as ``url``'s role posts."""
    engine = create_engine(url, pool_size=8)

    def uow() -> SqlUnitOfWork:
        # A Keel service posting: the platform's scope (row-level security admits it).
        return SqlUnitOfWork(engine, encode, org_id=PLATFORM)

    handlers = TransactionHandlers(uow, now)
    accounts = AccountHandlers(uow, now)
    # Unbounded SUSPENSE accounts are the platform's: only internal services open and debit them.
    caller = Caller(subject="bench", org_id=str(uuid.uuid4()), kind="service")
    ids = [
        (
            await accounts.create_account(
                commands.CreateAccount(caller, AccountKind.SUSPENSE, Asset("USD", 2))
            )
        ).id
        for _ in range(n_accounts)
    ]

    def transfer() -> commands.CreateTransaction:
        debit, credit = random.sample(ids, 2)
        legs = (Posting(debit, Side.DEBIT, 1, "USD"), Posting(credit, Side.CREDIT, 1, "USD"))
        return commands.CreateTransaction(caller, uuid.uuid4().hex, legs)

    async def single() -> int:
        await handlers.create(transfer())
        return 1

    committer = GroupCommitter(handlers, max_group=64, workers=2)
    task = asyncio.create_task(committer.run())

    async def grouped() -> int:
        await committer.create(transfer())
        return 1

    async def batch() -> int:
        items = tuple(transfer() for _ in range(50))
        await handlers.create_batch(commands.CreateTransactionBatch(caller, items))
        return len(items)

    scenarios = {
        ONE_PER_TX: (8, single),
        GROUP_COMMIT: (64, grouped),
        BATCH: (1, batch),
    }
    try:
        return {label: await run(*scenarios[label]) for label in only}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def main(admin_url: str) -> None:
    name = f"ledger_bench_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{admin_url.rpartition('/')[0]}/{name}"
    try:
        SCHEMA.migrate(url)
        print(f"baseline INSERT+COMMIT, 1 connection: {await baseline(url):,.0f}/s")
        for n_accounts in (1000, 10):
            for label, rate in (await scenario(url, n_accounts)).items():
                print(f"{n_accounts:>5} accounts, {label}: {rate:,.0f} postings/s")
    finally:
        async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
            await conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres")
    )
