"""Group commit over fakes: independent outcomes inside one unit of work."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused
from ledger.app import commands
from ledger.app.accounts import AccountHandlers
from ledger.app.group_commit import GroupCommitter
from ledger.app.transactions import TransactionHandlers
from ledger.domain import errors
from ledger.domain.model import Account, AccountKind, Asset, Posting, Side

from .conftest import FakeDatabase


def transfer(
    caller: Caller, a: Account, b: Account, amount: int, rid: str
) -> commands.CreateTransaction:
    legs = (Posting(a.id, Side.DEBIT, amount, "USD"), Posting(b.id, Side.CREDIT, amount, "USD"))
    return commands.CreateTransaction(caller=caller, request_id=rid, postings=legs)


async def test_each_request_succeeds_or_fails_alone(
    db: FakeDatabase, accounts: AccountHandlers, transactions: TransactionHandlers
) -> None:
    org = str(uuid.uuid4())
    owner = Caller(subject="u", org_id=org, roles=frozenset({"OWNER"}))
    operator = Caller(subject="operator", org_id=org, kind="operator")
    wallet = await accounts.open_wallet(commands.OpenWallet(org, "USD"))
    funding = await accounts.create_account(
        commands.CreateAccount(caller=operator, kind=AccountKind.FUNDING, asset=Asset("USD", 2))
    )
    committer = GroupCommitter(transactions, max_group=16, workers=1)
    worker = asyncio.create_task(committer.run())
    try:
        calls = [
            transfer(operator, funding, wallet, 100, "fund"),
            transfer(owner, wallet, funding, 60, "spend-1"),
            transfer(owner, wallet, funding, 60, "spend-2"),  # only 40 left by then
            transfer(operator, funding, wallet, 100, "fund"),  # same request: same transaction
            transfer(operator, funding, wallet, 7, "fund"),  # same id, other payload
            transfer(
                Caller(subject="u", org_id=org, roles=frozenset({"MEMBER"})),
                funding,
                wallet,
                1,
                "m",
            ),
            transfer(owner, funding, wallet, 1_000, "mint"),  # a member may not mint
        ]
        results = await asyncio.gather(
            *(committer.create(c) for c in calls), return_exceptions=True
        )
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    fund, spend1, spend2, again, reused, member, mint = results
    assert not isinstance(fund, BaseException) and not isinstance(spend1, BaseException)
    assert isinstance(spend2, errors.InsufficientFunds)
    assert not isinstance(again, BaseException) and again.id == fund.id
    assert isinstance(reused, errors.RequestIdReused)
    assert isinstance(member, CallerRefused)
    assert isinstance(mint, errors.UnboundedDebitRequiresService)
    assert {t.request_id for t, _ in db.state.transactions.values()} == {"fund", "spend-1"}
    view = await accounts.get_balance(commands.GetBalance(owner, wallet.id))
    assert view.available == 40


async def test_cancelled_worker_cancels_queued_requests(transactions: TransactionHandlers) -> None:
    committer = GroupCommitter(transactions, workers=1)
    caller = Caller(subject="u", org_id=str(uuid.uuid4()), roles=frozenset({"OWNER"}))
    legs = (
        Posting(str(uuid.uuid4()), Side.DEBIT, 1, "USD"),
        Posting(str(uuid.uuid4()), Side.CREDIT, 1, "USD"),
    )
    pending = asyncio.create_task(committer.create(commands.CreateTransaction(caller, "x", legs)))
    await asyncio.sleep(0)
    worker = asyncio.create_task(committer.run())
    with pytest.raises(errors.AccountNotFound):
        await pending
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)


async def test_one_request_id_in_two_scopes_in_one_group(
    db: FakeDatabase, accounts: AccountHandlers, transactions: TransactionHandlers
) -> None:
    """A member and billing using ``invoice:1`` in one group: two transactions, not one."""
    org = str(uuid.uuid4())
    owner = Caller(subject="u", org_id=org, roles=frozenset({"OWNER"}))
    billing = Caller(subject="billing", org_id=org, kind="service")
    wallet = await accounts.open_wallet(commands.OpenWallet(org, "USD"))
    revenue = await accounts.create_account(
        commands.CreateAccount(caller=billing, kind=AccountKind.REVENUE, asset=Asset("USD", 2))
    )
    await transactions.create(transfer(billing, revenue, wallet, 10, "fund"))
    committer = GroupCommitter(transactions, max_group=16, workers=1)
    calls = [
        transfer(owner, wallet, revenue, 3, "invoice:1"),
        transfer(billing, wallet, revenue, 7, "invoice:1"),
        transfer(owner, wallet, revenue, 3, "invoice:1"),  # the member's repeat
    ]
    results = [asyncio.ensure_future(committer.create(c)) for c in calls]
    worker = asyncio.create_task(committer.run())
    try:
        mine, paid, again = await asyncio.gather(*results)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    assert mine.id != paid.id and again.id == mine.id
    assert (await accounts.get_balance(commands.GetBalance(owner, wallet.id))).available == 0
