"""Checkpoints of the chain heads against PostgreSQL: incremental, append-only, published,
and held against by VerifyLedger."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from keel.ledger.v1 import events_pb2 as ledger_events
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime.caller import Caller
from keel_runtime.db import create_engine
from keel_runtime.events import decode, unpack
from ledger.app import commands
from ledger.app.accounts import AccountHandlers
from ledger.app.checkpoints import Checkpointer
from ledger.app.queries import QueryHandlers
from ledger.app.transactions import TransactionHandlers
from ledger.domain.checkpoint import CheckpointKey
from ledger.domain.model import Account, AccountKind, Asset, Posting, Side

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(engine: AsyncEngine, admin_database_url: str) -> AsyncIterator[AsyncEngine]:
    """Here every statement runs as the database administrator (a superuser), whom the
    triggers still bind and who alone can switch them off: the attacker these tests play.
    (Requesting ``engine`` migrates the database as the conftest's fixture does.)"""
    dba = create_engine(admin_database_url, pool_size=4)
    yield dba
    await dba.dispose()


def utcnow() -> datetime:
    return datetime.now(UTC)


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


@pytest.fixture
def checkpointer(uow) -> Checkpointer:  # type: ignore[no-untyped-def]
    return Checkpointer(uow, utcnow, CheckpointKey.generate())


@pytest.fixture
def audited(uow, checkpointer: Checkpointer) -> QueryHandlers:  # type: ignore[no-untyped-def]
    """VerifyLedger as the server runs it: with the process's checkpointer."""
    return QueryHandlers(uow, utcnow, checkpointer)


async def pay(
    transactions: TransactionHandlers, operator: Caller, source: Account,
    dest: Account, amount: int, rid: str,
) -> None:  # fmt: skip
    legs = (
        Posting(source.id, Side.DEBIT, amount, "USD"),
        Posting(dest.id, Side.CREDIT, amount, "USD"),
    )
    await transactions.create(
        commands.CreateTransaction(caller=operator, request_id=rid, postings=legs)
    )


async def codes(audited: QueryHandlers) -> list[str]:
    report = await audited.verify(commands.VerifyLedger())
    return [v.code for v in report.violations]


async def test_checkpoints_cover_what_moved_and_chain_onto_each_other(
    transactions: TransactionHandlers, checkpointer: Checkpointer, audited: QueryHandlers,
    operator: Caller, pair: tuple[Account, Account], accounts: AccountHandlers,
) -> None:  # fmt: skip
    wallet, funding = pair
    assert await checkpointer.take() is None  # no history yet
    await pay(transactions, operator, funding, wallet, 100, "fund")
    first = await checkpointer.take()
    assert first is not None and first.sequence == 1 and first.previous_mac == b""
    assert [(h.account_id, h.entry_count) for h in first.heads] == sorted(
        [(wallet.id, 1), (funding.id, 1)]
    )
    assert await checkpointer.take() is None  # nothing moved since
    other = await accounts.create_account(
        commands.CreateAccount(caller=operator, kind=AccountKind.EXPENSE, asset=Asset("USD", 2))
    )
    await pay(transactions, operator, wallet, other, 30, "spend")
    second = await checkpointer.take()
    assert second is not None and second.sequence == 2 and second.previous_mac == first.mac
    assert [(h.account_id, h.entry_count) for h in second.heads] == sorted(
        [(wallet.id, 2), (other.id, 1)]
    )
    assert await codes(audited) == []


async def test_a_checkpoint_is_published_through_the_outbox(
    engine: AsyncEngine, transactions: TransactionHandlers, checkpointer: Checkpointer,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    await pay(transactions, operator, funding, wallet, 100, "fund")
    checkpoint = await checkpointer.take()
    assert checkpoint is not None
    async with engine.connect() as conn:
        payload = await conn.scalar(
            text("SELECT payload FROM outbox WHERE subject = 'ledger.checkpoint.recorded'")
        )
    envelope = decode(payload)
    event = unpack(envelope, ledger_events.CheckpointRecorded)
    assert (event.sequence, event.key_id, event.mac, event.account_count) == (
        1, checkpointer.key.key_id, checkpoint.mac, 2,
    )  # fmt: skip
    assert event.heads_digest == checkpoint.heads_digest
    assert checkpointer.key.secret not in payload


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE checkpoints SET mac = ''::bytea",
        "DELETE FROM checkpoint_heads",
        "DELETE FROM checkpoints",
        "TRUNCATE checkpoints CASCADE",
    ],
)
async def test_checkpoints_are_append_only(
    engine: AsyncEngine, transactions: TransactionHandlers, checkpointer: Checkpointer,
    operator: Caller, pair: tuple[Account, Account], statement: str,
) -> None:  # fmt: skip
    wallet, funding = pair
    await pay(transactions, operator, funding, wallet, 100, "fund")
    await checkpointer.take()
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text(statement))


async def test_removed_checkpoints_are_reported(
    engine: AsyncEngine, transactions: TransactionHandlers, checkpointer: Checkpointer,
    audited: QueryHandlers, operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    for i in range(3):
        await pay(transactions, operator, funding, wallet, 10, f"t{i}")
        await checkpointer.take()
    assert await codes(audited) == []
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        # The middle one: the chain of checkpoints breaks.
        await conn.execute(text("DELETE FROM checkpoint_heads WHERE sequence = 2"))
        await conn.execute(text("DELETE FROM checkpoints WHERE sequence = 2"))
    assert await codes(audited) == ["CHECKPOINT_MISSING"]
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        # The last one too: the database alone cannot tell, the process that took it can.
        await conn.execute(text("DELETE FROM checkpoint_heads WHERE sequence = 3"))
        await conn.execute(text("DELETE FROM checkpoints WHERE sequence = 3"))
    report = await audited.verify(commands.VerifyLedger())
    assert [(v.code, v.detail) for v in report.violations] == [
        ("CHECKPOINT_MISSING", "checkpoint 3 was taken but is not in the database")
    ]


async def test_a_new_key_starts_its_own_checkpoints(
    uow, transactions: TransactionHandlers, checkpointer: Checkpointer,  # type: ignore[no-untyped-def]
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    await pay(transactions, operator, funding, wallet, 100, "fund")
    await checkpointer.take()
    # A restart with another key (e.g. the development default): the old checkpoints are
    # not its to check; its first one covers every account.
    restarted = Checkpointer(uow, utcnow, CheckpointKey.generate())
    first = await restarted.take()
    assert first is not None and first.sequence == 1 and len(first.heads) == 2
    assert (await QueryHandlers(uow, utcnow, restarted).verify(commands.VerifyLedger())).ok
