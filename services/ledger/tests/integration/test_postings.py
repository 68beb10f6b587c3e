"""Postings against PostgreSQL: balances, idempotency, holds, concurrency, immutability."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from keel.ledger.v1 import events_pb2 as ledger_events
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from keel_runtime import context
from keel_runtime.caller import Caller
from keel_runtime.db import create_engine
from keel_runtime.events import decode, unpack
from ledger.app import commands
from ledger.app.accounts import AccountHandlers
from ledger.app.group_commit import GroupCommitter
from ledger.app.queries import QueryHandlers
from ledger.app.transactions import TransactionHandlers
from ledger.domain import errors
from ledger.domain.model import Account, AccountKind, Asset, Posting, Side, TransactionState

pytestmark = pytest.mark.integration

D, C = Side.DEBIT, Side.CREDIT


def transfer(
    caller: Caller, source: Account, dest: Account, amount: int, rid: str, **kw: object
) -> commands.CreateTransaction:
    legs = (Posting(source.id, D, amount, "USD"), Posting(dest.id, C, amount, "USD"))
    return commands.CreateTransaction(caller=caller, request_id=rid, postings=legs, **kw)  # type: ignore[arg-type]


@pytest.fixture
def caller() -> Caller:
    return Caller(subject="u", org_id=str(uuid.uuid4()), roles=frozenset({"OWNER"}))


@pytest.fixture
def operator(caller: Caller) -> Caller:
    """An internal service in the caller's org: it opens funding accounts and funds wallets."""
    return Caller(subject="operator", org_id=caller.org_id, kind="operator")


@pytest.fixture
async def pair(accounts: AccountHandlers, operator: Caller) -> tuple[Account, Account]:
    wallet = await accounts.open_wallet(commands.OpenWallet(operator.org_id, "USD"))
    funding = await accounts.create_account(
        commands.CreateAccount(caller=operator, kind=AccountKind.FUNDING, asset=Asset("USD", 2))
    )
    return wallet, funding


async def test_posting_round_trip(
    accounts: AccountHandlers, transactions: TransactionHandlers, queries: QueryHandlers,
    caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    fund = await transactions.create(transfer(operator, funding, wallet, 1000, "fund"))
    assert (
        await transactions.create(transfer(operator, funding, wallet, 1000, "fund"))
    ).id == fund.id
    with pytest.raises(errors.RequestIdReused):
        await transactions.create(transfer(operator, funding, wallet, 999, "fund"))
    with pytest.raises(errors.InsufficientFunds):
        await transactions.create(transfer(caller, wallet, funding, 1001, "spend"))
    hold = await transactions.create(transfer(caller, wallet, funding, 600, "hold", pending=True))
    post, resolved = await transactions.post_pending(
        commands.PostPending(caller, hold.id, "post", amount=250)
    )
    assert resolved.state is TransactionState.POSTED
    view = await accounts.get_balance(commands.GetBalance(caller, wallet.id))
    assert (view.balance.debits_posted, view.balance.credits_posted, view.available) == (
        250,
        1000,
        750,
    )
    rev = await transactions.reverse(commands.ReverseTransaction(operator, post.id, "rev"))
    got = await queries.get_transaction(commands.GetTransaction(caller, rev.id))
    assert got.reversed_id == post.id
    history = await queries.list_transactions(commands.ListTransactions(caller, wallet.id))
    assert [t.id for t in history.items] == [rev.id, post.id, hold.id, fund.id]
    window = await queries.list_transactions(
        commands.ListTransactions(caller, wallet.id, start=hold.created_at, end=rev.created_at)
    )
    assert [t.id for t in window.items] == [post.id, hold.id]
    then = await accounts.get_balance(commands.GetBalance(caller, wallet.id, as_of=fund.created_at))
    assert then.balance.credits_posted == 1000 and then.balance.debits_posted == 0
    report = await queries.verify(commands.VerifyLedger())
    assert report.ok, report.violations
    assert report.entries_checked == 2 + 2 + 4 + 2


async def test_concurrent_spends_never_overdraw(
    accounts: AccountHandlers, transactions: TransactionHandlers, queries: QueryHandlers,
    caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    await transactions.create(transfer(operator, funding, wallet, 1000, "fund"))

    async def spend(i: int) -> bool:
        try:
            await transactions.create(transfer(caller, wallet, funding, 70, f"spend-{i}"))
        except errors.InsufficientFunds:
            return False
        return True

    results = await asyncio.gather(*(spend(i) for i in range(30)))
    assert sum(results) == 1000 // 70
    view = await accounts.get_balance(commands.GetBalance(caller, wallet.id))
    assert view.available == 1000 - 70 * (1000 // 70)
    assert (await queries.verify(commands.VerifyLedger())).ok


async def test_concurrent_crossing_transfers_do_not_deadlock(
    accounts: AccountHandlers, transactions: TransactionHandlers, queries: QueryHandlers,
    operator: Caller,
) -> None:  # fmt: skip
    made = [
        await accounts.create_account(
            commands.CreateAccount(
                caller=operator, kind=AccountKind.SUSPENSE, asset=Asset("USD", 2)
            )
        )
        for _ in range(3)
    ]
    # A -> B, B -> C, C -> A at once: lock order by id is what keeps these from deadlocking.
    tasks = [
        transactions.create(transfer(operator, made[i % 3], made[(i + 1) % 3], 1, f"x{i}"))
        for i in range(24)
    ]
    await asyncio.gather(*tasks)
    assert (await queries.verify(commands.VerifyLedger())).ok


async def test_same_request_id_concurrently_posts_once(
    accounts: AccountHandlers, transactions: TransactionHandlers,
    caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    made = await asyncio.gather(
        *(transactions.create(transfer(operator, funding, wallet, 5, "same")) for _ in range(8))
    )
    assert len({t.id for t in made}) == 1
    view = await accounts.get_balance(commands.GetBalance(caller, wallet.id))
    assert view.balance.credits_posted == 5


@pytest.mark.parametrize(
    "statement",
    ["UPDATE entries SET amount = amount + 1", "DELETE FROM entries", "TRUNCATE entries CASCADE"],
)
async def test_entries_are_immutable(
    engine: AsyncEngine, owner_engine: AsyncEngine, transactions: TransactionHandlers,
    caller: Caller, operator: Caller, pair: tuple[Account, Account],
    statement: str,
) -> None:  # fmt: skip
    wallet, funding = pair
    await transactions.create(transfer(operator, funding, wallet, 5, "one"))
    # The service's runtime role holds no UPDATE/DELETE/TRUNCATE on entries at all...
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError, match="permission denied for table entries"):
            await conn.execute(text(statement))
    # ...and the trigger refuses even the tables' owner.
    async with owner_engine.connect() as conn:
        with pytest.raises(DBAPIError, match="immutable"):
            await conn.execute(text(statement))
        await conn.rollback()
        assert await conn.scalar(text("SELECT count(*) FROM entries")) == 2


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE entries DISABLE TRIGGER entries_immutable",
        "ALTER TABLE entries DISABLE TRIGGER ALL",
        "DROP TRIGGER entries_immutable ON entries",
        "ALTER TABLE transactions ADD COLUMN spy text",
        "CREATE TABLE spy (id int)",
    ],
)
async def test_the_runtime_role_can_neither_lift_the_trigger_nor_run_ddl(
    engine: AsyncEngine, statement: str
) -> None:
    async with engine.connect() as conn:
        with pytest.raises(DBAPIError, match=r"must be owner|permission denied"):
            await conn.execute(text(statement))


async def test_verify_catches_a_tampered_balance(
    admin_database_url: str, transactions: TransactionHandlers, queries: QueryHandlers,
    caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    await transactions.create(transfer(operator, funding, wallet, 5, "one"))
    dba = create_engine(admin_database_url, pool_size=1)  # only a superuser passes triggers
    try:
        async with dba.begin() as conn:
            # Past the triggers (refused otherwise: see test_append_only).
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(
                text("UPDATE balances SET credits_posted = 6 WHERE account_id = :a"),
                {"a": wallet.id},
            )
    finally:
        await dba.dispose()
    report = await queries.verify(commands.VerifyLedger(asset_code="USD"))
    assert [v.code for v in report.violations] == ["BALANCE_MISMATCH"]
    assert report.violations[0].account_id == wallet.id


async def test_outbox_holds_the_events(
    engine: AsyncEngine, transactions: TransactionHandlers, caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    await transactions.create(transfer(operator, funding, wallet, 5, "one"))
    async with engine.connect() as conn:
        subjects = (
            (await conn.execute(text("SELECT subject FROM outbox ORDER BY created_at, subject")))
            .scalars()
            .all()
        )
    assert sorted(subjects) == [
        "ledger.account.opened", "ledger.account.opened", "ledger.transaction.posted",
    ]  # fmt: skip


async def test_a_refused_transaction_leaves_no_trace(
    engine: AsyncEngine, transactions: TransactionHandlers, caller: Caller,
    pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    with pytest.raises(errors.InsufficientFunds):
        await transactions.create(transfer(caller, wallet, funding, 1, "overdraw"))
    async with engine.connect() as conn:
        counts = [
            await conn.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("transactions", "entries")
        ]
        outbox = await conn.scalar(
            text("SELECT count(*) FROM outbox WHERE subject LIKE 'ledger.transaction.%'")
        )
    assert counts == [0, 0] and outbox == 0


async def test_group_commit_never_overdraws(
    accounts: AccountHandlers, transactions: TransactionHandlers, queries: QueryHandlers,
    caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    await transactions.create(transfer(operator, funding, wallet, 1000, "fund"))
    committer = GroupCommitter(transactions, max_group=16, workers=2)
    worker = asyncio.create_task(committer.run())
    try:
        results = await asyncio.gather(
            *(committer.create(transfer(caller, wallet, funding, 70, f"g-{i}")) for i in range(40)),
            *(committer.create(transfer(caller, wallet, funding, 70, "g-0")) for _ in range(3)),
            return_exceptions=True,
        )
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    posted = {r.id for r in results if not isinstance(r, BaseException)}
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, errors.InsufficientFunds) for r in refused)
    assert len(posted) == 1000 // 70
    view = await accounts.get_balance(commands.GetBalance(caller, wallet.id))
    assert view.available == 1000 - 70 * (1000 // 70)
    assert (await queries.verify(commands.VerifyLedger())).ok


async def test_verify_catches_rewritten_history(
    owner_engine: AsyncEngine, transactions: TransactionHandlers, queries: QueryHandlers,
    caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    for i in range(3):
        await transactions.create(transfer(operator, funding, wallet, 5, f"t{i}"))
    assert (await queries.verify(commands.VerifyLedger())).ok
    # What only someone able to switch the immutability trigger off (the owner) could do.
    async with owner_engine.begin() as conn:
        await conn.execute(text("ALTER TABLE entries DISABLE TRIGGER entries_immutable"))
        await conn.execute(text("ALTER TABLE balances DISABLE TRIGGER balances_follow_entries"))
        await conn.execute(
            text("UPDATE entries SET amount = 6 WHERE account_id = :a AND account_seq = 2"),
            {"a": wallet.id},
        )
        await conn.execute(
            text("UPDATE balances SET credits_posted = credits_posted + 1 WHERE account_id = :a"),
            {"a": wallet.id},
        )
        await conn.execute(text("ALTER TABLE entries ENABLE TRIGGER entries_immutable"))
        await conn.execute(text("ALTER TABLE balances ENABLE TRIGGER balances_follow_entries"))
    report = await queries.verify(commands.VerifyLedger())
    codes = {(v.code, v.account_id) for v in report.violations}
    assert ("CHAIN_BROKEN", wallet.id) in codes
    assert ("BALANCE_MISMATCH", wallet.id) not in codes  # the totals were doctored to match


async def test_expired_holds_are_released_by_the_sweeper(
    uow, accounts: AccountHandlers, transactions: TransactionHandlers,  # type: ignore[no-untyped-def]
    caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    await transactions.create(transfer(operator, funding, wallet, 100, "fund"))
    hold = await transactions.create(
        transfer(caller, wallet, funding, 80, "hold", pending=True, ttl=timedelta(minutes=5))
    )
    later = TransactionHandlers(uow, lambda: datetime.now(UTC) + timedelta(minutes=10))
    with pytest.raises(errors.PendingExpired):
        await later.post_pending(commands.PostPending(caller, hold.id, "late"))
    assert await transactions.expire_due() == 0  # not due yet by the real clock
    assert await later.expire_due() == 1
    view = await accounts.get_balance(commands.GetBalance(caller, wallet.id))
    assert (view.balance.debits_pending, view.available) == (0, 100)


async def test_events_carry_the_payload_and_request_id(
    engine: AsyncEngine, transactions: TransactionHandlers, caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    with context.bound(request_id="req-123", traceparent=None):
        posted = await transactions.create(transfer(operator, funding, wallet, 5, "one"))
    async with engine.connect() as conn:
        payload = await conn.scalar(
            text("SELECT payload FROM outbox WHERE subject = 'ledger.transaction.posted'")
        )
    envelope = decode(payload)
    assert (envelope.source, envelope.subject, envelope.org_id) == (
        "ledger",
        posted.id,
        caller.org_id,
    )
    assert envelope.request_id == "req-123"
    event = unpack(envelope, ledger_events.TransactionPosted)
    assert event.transaction.transaction_id == posted.id
    assert [p.amount for p in event.transaction.postings] == [5, 5]


async def test_group_committed_events_carry_each_submitters_request_id(
    engine: AsyncEngine, transactions: TransactionHandlers,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    committer = GroupCommitter(transactions, max_group=16, workers=1)

    async def submit(i: int) -> str:
        with context.bound(request_id=f"req-{i}", traceparent=None):
            return (await committer.create(transfer(operator, funding, wallet, 1, f"t{i}"))).id

    # Queued before the worker starts: the worker takes them as one group.
    submitted = [asyncio.create_task(submit(i)) for i in range(4)]
    await asyncio.sleep(0)
    worker = asyncio.create_task(committer.run())
    try:
        ids = await asyncio.gather(*submitted)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    async with engine.connect() as conn:
        payloads = await conn.scalars(
            text("SELECT payload FROM outbox WHERE subject = 'ledger.transaction.posted'")
        )
        envelopes = [decode(p) for p in payloads]
    assert {e.subject: e.request_id for e in envelopes} == {
        tx_id: f"req-{i}" for i, tx_id in enumerate(ids)
    }
