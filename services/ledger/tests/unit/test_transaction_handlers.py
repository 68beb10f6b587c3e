"""Transaction handlers over fakes: postings, idempotency, holds, reversals, visibility."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused
from ledger.app import commands
from ledger.app.accounts import AccountHandlers
from ledger.app.queries import QueryHandlers
from ledger.app.transactions import Submission, TransactionHandlers
from ledger.domain import errors
from ledger.domain import events as ev
from ledger.domain.model import (
    Account,
    AccountKind,
    Asset,
    BalanceBound,
    Posting,
    Side,
    TransactionKind,
    TransactionState,
)

from .conftest import FakeClock, FakeDatabase

D, C = Side.DEBIT, Side.CREDIT


@pytest.fixture
def org() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def caller(org: str) -> Caller:
    return Caller(subject="u", org_id=org, roles=frozenset({"ADMIN"}))


@pytest.fixture
def operator(org: str) -> Caller:
    """An internal service acting in the org: it keeps the platform's books and funds wallets."""
    return Caller(subject="operator", org_id=org, kind="operator")


@pytest.fixture
async def pair(accounts: AccountHandlers, org: str, operator: Caller) -> tuple[Account, Account]:
    wallet = await accounts.open_wallet(commands.OpenWallet(org, "USD"))
    funding = await accounts.create_account(
        commands.CreateAccount(caller=operator, kind=AccountKind.FUNDING, asset=Asset("USD", 2))
    )
    return wallet, funding


def transfer(
    caller: Caller, source: Account, dest: Account, amount: int, rid: str, **kw: object
) -> commands.CreateTransaction:
    legs = (Posting(source.id, D, amount, "USD"), Posting(dest.id, C, amount, "USD"))
    return commands.CreateTransaction(caller=caller, request_id=rid, postings=legs, **kw)  # type: ignore[arg-type]


async def balance(accounts: AccountHandlers, caller: Caller, account: Account) -> tuple[int, ...]:
    b = (await accounts.get_balance(commands.GetBalance(caller, account.id))).balance
    return b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending


async def test_fund_and_spend(
    accounts: AccountHandlers, transactions: TransactionHandlers, caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    await transactions.create(transfer(operator, funding, wallet, 1000, "fund"))
    assert await balance(accounts, caller, wallet) == (0, 1000, 0, 0)
    with pytest.raises(errors.InsufficientFunds):
        await transactions.create(transfer(caller, wallet, funding, 1001, "spend-too-much"))
    await transactions.create(transfer(caller, wallet, funding, 1000, "spend"))
    assert await balance(accounts, caller, wallet) == (1000, 1000, 0, 0)


async def test_repeat_returns_first_and_reuse_is_refused(
    db: FakeDatabase, transactions: TransactionHandlers, caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    first = await transactions.create(transfer(operator, funding, wallet, 10, "r"))
    again = await transactions.create(transfer(operator, funding, wallet, 10, "r"))
    assert again.id == first.id
    assert sum(isinstance(e, ev.TransactionPosted) for e in db.state.events) == 1
    with pytest.raises(errors.RequestIdReused) as info:
        await transactions.create(transfer(operator, funding, wallet, 11, "r"))
    assert info.value.reason == "REQUEST_ID_REUSED"


async def test_failed_transaction_leaves_nothing(
    db: FakeDatabase, transactions: TransactionHandlers, caller: Caller,
    pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    with pytest.raises(errors.InsufficientFunds):
        await transactions.create(transfer(caller, wallet, funding, 1, "x"))
    assert db.state.transactions == {} and db.state.entries == []


async def test_members_cannot_move_money(
    transactions: TransactionHandlers, org: str, pair: tuple[Account, Account]
) -> None:
    wallet, funding = pair
    member = Caller(subject="u", org_id=org, roles=frozenset({"MEMBER"}))
    with pytest.raises(CallerRefused):
        await transactions.create(transfer(member, funding, wallet, 1, "m"))


async def test_other_orgs_accounts_cannot_be_posted_to(
    transactions: TransactionHandlers, pair: tuple[Account, Account]
) -> None:
    wallet, funding = pair
    stranger = Caller(subject="u", org_id=str(uuid.uuid4()), roles=frozenset({"OWNER"}))
    with pytest.raises(errors.AccountNotFound):
        await transactions.create(transfer(stranger, funding, wallet, 1, "s"))


async def test_hold_then_partial_post(
    accounts: AccountHandlers, transactions: TransactionHandlers, caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    await transactions.create(transfer(operator, funding, wallet, 100, "fund"))
    hold = await transactions.create(transfer(caller, wallet, funding, 80, "hold", pending=True))
    assert hold.state is TransactionState.PENDING
    assert await balance(accounts, caller, wallet) == (0, 100, 80, 0)
    with pytest.raises(errors.InsufficientFunds):
        await transactions.create(transfer(caller, wallet, funding, 21, "more"))
    post, resolved = await transactions.post_pending(
        commands.PostPending(caller, hold.id, "post", amount=30)
    )
    assert post.kind is TransactionKind.POST_PENDING and resolved.state is TransactionState.POSTED
    assert await balance(accounts, caller, wallet) == (30, 100, 0, 0)
    again, _ = await transactions.post_pending(
        commands.PostPending(caller, hold.id, "post", amount=30)
    )
    assert again.id == post.id
    with pytest.raises(errors.TransactionNotPending):
        await transactions.void_pending(commands.VoidPending(caller, hold.id, "void"))


async def test_void_releases_the_hold(
    accounts: AccountHandlers, transactions: TransactionHandlers, caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    await transactions.create(transfer(operator, funding, wallet, 100, "fund"))
    hold = await transactions.create(transfer(caller, wallet, funding, 80, "hold", pending=True))
    _, voided = await transactions.void_pending(commands.VoidPending(caller, hold.id, "void"))
    assert voided.state is TransactionState.VOIDED
    assert await balance(accounts, caller, wallet) == (0, 100, 0, 0)


async def test_expired_holds_are_released_and_cannot_be_posted(
    db: FakeDatabase, clock: FakeClock, accounts: AccountHandlers,
    transactions: TransactionHandlers, caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    await transactions.create(transfer(operator, funding, wallet, 100, "fund"))
    hold = await transactions.create(
        transfer(caller, wallet, funding, 80, "hold", pending=True, ttl=timedelta(seconds=5))
    )
    assert hold.expires_at is not None
    clock.now += timedelta(seconds=10)
    with pytest.raises(errors.PendingExpired):
        await transactions.post_pending(commands.PostPending(caller, hold.id, "late"))
    assert await transactions.expire_due() == 1
    assert await transactions.expire_due() == 0
    assert await balance(accounts, caller, wallet) == (0, 100, 0, 0)
    assert any(isinstance(e, ev.PendingExpired) for e in db.state.events)


async def test_reverse_once(
    accounts: AccountHandlers, transactions: TransactionHandlers, caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    fund = await transactions.create(transfer(operator, funding, wallet, 100, "fund"))
    reversal = await transactions.reverse(commands.ReverseTransaction(caller, fund.id, "rev"))
    assert reversal.kind is TransactionKind.REVERSAL and reversal.reversed_id == fund.id
    assert await balance(accounts, caller, wallet) == (100, 100, 0, 0)
    assert (
        await transactions.reverse(commands.ReverseTransaction(caller, fund.id, "rev"))
    ).id == reversal.id
    with pytest.raises(errors.AlreadyReversed):
        await transactions.reverse(commands.ReverseTransaction(caller, fund.id, "rev2"))
    with pytest.raises(errors.TransactionNotReversible):
        await transactions.reverse(commands.ReverseTransaction(caller, reversal.id, "rev3"))


async def test_batch_is_atomic(
    db: FakeDatabase, transactions: TransactionHandlers, caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    good = transfer(operator, funding, wallet, 10, "b1")
    bad = transfer(caller, wallet, funding, 11, "b2")
    with pytest.raises(errors.InsufficientFunds):
        await transactions.create_batch(commands.CreateTransactionBatch(operator, (good, bad)))
    assert db.state.transactions == {}
    done = await transactions.create_batch(
        commands.CreateTransactionBatch(
            operator, (good, transfer(caller, wallet, funding, 10, "b3"))
        )
    )
    assert [t.request_id for t in done] == ["b1", "b3"]


async def test_history_and_balance_as_of(
    clock: FakeClock, accounts: AccountHandlers, transactions: TransactionHandlers,
    queries: QueryHandlers, caller: Caller,
    operator: Caller, pair: tuple[Account, Account],
) -> None:  # fmt: skip
    wallet, funding = pair
    made = [
        await transactions.create(transfer(operator, funding, wallet, 10, f"t{i}"))
        for i in range(3)
    ]
    page = await queries.list_transactions(
        commands.ListTransactions(caller, wallet.id, page_size=2)
    )
    assert [t.id for t in page.items] == [made[2].id, made[1].id]
    rest = await queries.list_transactions(
        commands.ListTransactions(caller, wallet.id, page_size=2, page_token=page.next_page_token)
    )
    assert [t.id for t in rest.items] == [made[0].id] and rest.next_page_token == ""
    then = await accounts.get_balance(
        commands.GetBalance(caller, wallet.id, as_of=made[1].created_at)
    )
    assert then.balance.credits_posted == 20
    assert (await queries.get_transaction(commands.GetTransaction(caller, made[0].id))).id == made[
        0
    ].id
    report = await queries.verify(commands.VerifyLedger())
    assert report.ok


async def test_bounded_account_kinds(accounts: AccountHandlers, operator: Caller) -> None:
    with pytest.raises(errors.InvalidBalanceBound):
        await accounts.create_account(
            commands.CreateAccount(
                caller=operator, kind=AccountKind.REVENUE, asset=Asset("USD", 2),
                bound=BalanceBound.NONE, overdraft_limit=5,
            )
        )  # fmt: skip


async def test_same_account_on_both_sides_is_refused_and_leaves_no_trace(
    db: FakeDatabase,
    transactions: TransactionHandlers,
    pair: tuple[Account, Account],
    operator: Caller,
) -> None:
    wallet, _ = pair
    legs = (Posting(wallet.id, D, 999_999, "USD"), Posting(wallet.id, C, 999_999, "USD"))
    with pytest.raises(errors.AccountsMustBeDifferent):
        await transactions.create(commands.CreateTransaction(operator, "self", legs))
    with pytest.raises(errors.AccountsMustBeDifferent):
        await transactions.create(
            commands.CreateTransaction(operator, "self-hold", legs, pending=True)
        )
    assert db.state.transactions == {}


async def test_a_create_a_batch_item_and_a_group_member_are_refused_alike(
    transactions: TransactionHandlers,
    db: FakeDatabase,
    org: str,
    caller: Caller,
    operator: Caller,
    pair: tuple[Account, Account],
) -> None:
    """One create path: a single create is a group of one, a batch an atomic group; each
    refusal is the same error, with the same message, whichever way the request came."""
    wallet, funding = pair
    await transactions.create(transfer(operator, funding, wallet, 100, "fund"))
    member = Caller(subject="m", org_id=org, roles=frozenset({"MEMBER"}))
    refused = [
        transfer(member, wallet, funding, 1, "member"),  # may not write
        transfer(caller, funding, wallet, 1, "mint"),  # a tenant may not debit funding
        transfer(caller, wallet, funding, 101, "overdraw"),  # only 100 there
        transfer(operator, funding, wallet, 7, "fund"),  # request id used with 100
    ]
    for command in refused:
        with pytest.raises((errors.LedgerError, CallerRefused)) as alone:
            await transactions.create(command)
        with pytest.raises((errors.LedgerError, CallerRefused)) as batched:
            await transactions.create_batch(
                commands.CreateTransactionBatch(command.caller, (command,))
            )
        (grouped,) = await transactions.create_group([Submission(command)])
        assert type(alone.value) is type(batched.value) is type(grouped)
        assert str(alone.value) == str(batched.value) == str(grouped)
    assert len(db.state.transactions) == 1  # the funding alone was recorded
