"""The ledger's history accepts inserts only, and VerifyLedger sees what a disabled trigger let by.

Each attack is what a session with write access to the database would try: the triggers
refuse it; with the triggers off (what only an owner or a superuser can do), VerifyLedger
reports it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_runtime.caller import Caller
from keel_runtime.db import create_engine
from ledger.app import commands
from ledger.app.accounts import AccountHandlers
from ledger.app.queries import QueryHandlers
from ledger.app.transactions import TransactionHandlers
from ledger.domain.model import Account, AccountKind, Asset, Posting, Side, Transaction

pytestmark = pytest.mark.integration

D, C = Side.DEBIT, Side.CREDIT


@pytest.fixture
async def engine(engine: AsyncEngine, admin_database_url: str) -> AsyncIterator[AsyncEngine]:
    """Here every statement runs as the database administrator (a superuser), whom the
    triggers still bind and who alone can switch them off: the attacker these tests play.
    (Requesting ``engine`` migrates the database as the conftest's fixture does.)"""
    dba = create_engine(admin_database_url, pool_size=4)
    yield dba
    await dba.dispose()


@pytest.fixture
def operator() -> Caller:
    return Caller(subject="operator", org_id=str(uuid.uuid4()), kind="operator")


@pytest.fixture
async def pair(accounts: AccountHandlers, operator: Caller) -> tuple[Account, Account]:
    wallet = await accounts.open_wallet(commands.OpenWallet(operator.org_id, "USD"))
    funding = await accounts.create_account(
        commands.CreateAccount(caller=operator, kind=AccountKind.FUNDING, asset=Asset("USD", 2))
    )
    return wallet, funding


def transfer(
    caller: Caller, source: Account, dest: Account, amount: int, rid: str, **kw: object
) -> commands.CreateTransaction:
    legs = (Posting(source.id, D, amount, "USD"), Posting(dest.id, C, amount, "USD"))
    return commands.CreateTransaction(caller=caller, request_id=rid, postings=legs, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def funded(
    transactions: TransactionHandlers, operator: Caller, pair: tuple[Account, Account]
) -> Transaction:
    wallet, funding = pair
    return await transactions.create(transfer(operator, funding, wallet, 1000, "fund"))


async def refused(engine: AsyncEngine, statement: str, **params: object) -> str:
    """Run the statement; return the database's refusal (the test fails if it is accepted)."""
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError) as caught:
            await conn.execute(text(statement), params)
        await conn.rollback()
    return str(caught.value.orig)


async def without_triggers(conn: AsyncConnection) -> None:
    """What an owner or superuser can do: no trigger fires for the rest of the transaction."""
    await conn.execute(text("SET LOCAL session_replication_role = replica"))


async def violations(queries: QueryHandlers) -> set[tuple[str, str]]:
    report = await queries.verify(commands.VerifyLedger())
    return {(v.code, v.account_id) for v in report.violations}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE transactions SET postings = jsonb_set(postings, '{0,amount}', '1')",
        'UPDATE transactions SET metadata = \'{"note": "rewritten"}\'',
        "UPDATE transactions SET created_at = created_at - interval '1 day'",
        "DELETE FROM transactions",
        "TRUNCATE transactions CASCADE",
    ],
)
async def test_transactions_are_append_only(
    engine: AsyncEngine, funded: Transaction, statement: str
) -> None:
    why = await refused(engine, statement)
    assert "append-only" in why or "immutable" in why
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT postings, metadata FROM transactions"))).one()
    assert row.postings[0]["amount"] == 1000 and row.metadata == {}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE balances SET credits_posted = 6 WHERE account_id = :a",
        "UPDATE balances SET entry_count = entry_count - 1 WHERE account_id = :a",
        "DELETE FROM balances WHERE account_id = :a",
        "TRUNCATE balances CASCADE",
    ],
)
async def test_balances_change_only_with_entries(
    engine: AsyncEngine, funded: Transaction, pair: tuple[Account, Account], statement: str
) -> None:
    wallet, _ = pair
    assert "only with new entries" in await refused(engine, statement, a=wallet.id)


async def test_a_posted_transaction_cannot_be_voided(
    engine: AsyncEngine, funded: Transaction
) -> None:
    why = await refused(
        engine,
        "UPDATE transactions SET state = 'VOIDED', resolved_by_id = id WHERE id = :t",
        t=funded.id,
    )
    assert "not an allowed transition" in why


async def test_a_resolved_hold_cannot_be_reopened_or_resolved_again(
    engine: AsyncEngine,
    transactions: TransactionHandlers,
    operator: Caller,
    pair: tuple[Account, Account],
    funded: Transaction,
) -> None:
    wallet, funding = pair
    hold = await transactions.create(transfer(operator, wallet, funding, 100, "hold", pending=True))
    # A hold cannot be marked posted without a transaction that posts it.
    assert "not an allowed transition" in await refused(
        engine,
        "UPDATE transactions SET state = 'POSTED', resolved_by_id = :f WHERE id = :h",
        h=hold.id,
        f=funded.id,
    )
    await transactions.void_pending(commands.VoidPending(operator, hold.id, request_id="void"))
    for statement in (
        "UPDATE transactions SET state = 'PENDING', resolved_by_id = NULL WHERE id = :h",
        "UPDATE transactions SET state = 'POSTED' WHERE id = :h",
    ):
        assert "resolved once" in await refused(engine, statement, h=hold.id)
    async with engine.connect() as conn:
        state = await conn.scalar(
            text("SELECT state FROM transactions WHERE id = :h"), {"h": hold.id}
        )
    assert state == "VOIDED"


async def test_verify_detects_rewritten_postings(
    engine: AsyncEngine, queries: QueryHandlers, funded: Transaction
) -> None:
    async with engine.begin() as conn:
        await without_triggers(conn)
        await conn.execute(
            text(
                "UPDATE transactions SET postings = jsonb_set(jsonb_set(postings,"
                " '{0,amount}', '1900'), '{1,amount}', '1900') WHERE id = :t"
            ),
            {"t": funded.id},
        )
    assert ("TRANSACTION_ENTRIES_MISMATCH", "") in await violations(queries)


async def test_verify_detects_a_rewritten_hold_state(
    engine: AsyncEngine,
    transactions: TransactionHandlers,
    queries: QueryHandlers,
    operator: Caller,
    pair: tuple[Account, Account],
    funded: Transaction,
) -> None:
    wallet, funding = pair
    hold = await transactions.create(transfer(operator, wallet, funding, 100, "hold", pending=True))
    await transactions.void_pending(commands.VoidPending(operator, hold.id, request_id="void"))
    assert await violations(queries) == set()
    async with engine.begin() as conn:
        await without_triggers(conn)
        await conn.execute(
            text("UPDATE transactions SET state = 'POSTED' WHERE id = :h"), {"h": hold.id}
        )
    assert ("TRANSACTION_STATE_INCONSISTENT", "") in await violations(queries)


async def test_verify_detects_rewritten_balances(
    engine: AsyncEngine, queries: QueryHandlers, funded: Transaction, pair: tuple[Account, Account]
) -> None:
    wallet, _ = pair
    async with engine.begin() as conn:
        # Past the trigger by bumping the chain length too.
        await conn.execute(
            text(
                "UPDATE balances SET credits_posted = 1500, entry_count = entry_count + 1"
                " WHERE account_id = :a"
            ),
            {"a": wallet.id},
        )
    found = await violations(queries)
    assert ("BALANCE_MISMATCH", wallet.id) in found
    assert ("CHAIN_HEAD_MISMATCH", wallet.id) in found
