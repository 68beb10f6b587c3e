"""One suite for the write path (``ledger.app.ports.Postings``), run against PostgreSQL and
against the unit tests' in-memory fake, so the fake the handlers are tested with behaves as
the database does.

Units of work act for the platform (the tests call no handler as a tenant), so every row is
visible; row-level security has its own tests (test_row_security).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from keel_runtime.caller import Caller
from ledger.app import commands
from ledger.app.accounts import AccountHandlers
from ledger.app.ports import Claim, Locked
from ledger.domain.chain import ChainedEntry, link
from ledger.domain.model import (
    Account,
    AccountKind,
    Asset,
    Balance,
    Bucket,
    Entry,
    Posting,
    Side,
    Transaction,
    TransactionKind,
    TransactionState,
)

from ..unit.conftest import FakeDatabase

pytestmark = pytest.mark.integration

UowFactory = Callable[[], Any]


@pytest.fixture(params=["postgres", "fake"])
def port_uow(request: pytest.FixtureRequest) -> UowFactory:
    if request.param == "postgres":
        return request.getfixturevalue("uow")  # type: ignore[no-any-return]
    return FakeDatabase().uow


@pytest.fixture
def org() -> str:
    return str(uuid.uuid4())


@pytest.fixture
async def two(port_uow: UowFactory, org: str) -> tuple[Account, Account]:
    """A wallet and a funding account of one organization, both empty."""
    accounts = AccountHandlers(port_uow, lambda: datetime.now(UTC))
    operator = Caller(subject="operator", org_id=org, kind="operator")
    wallet = await accounts.open_wallet(commands.OpenWallet(org, "USD"))
    funding = await accounts.create_account(
        commands.CreateAccount(caller=operator, kind=AccountKind.FUNDING, asset=Asset("USD", 2))
    )
    return wallet, funding


def transfer(org: str, source: Account, dest: Account, amount: int, rid: str) -> Transaction:
    return Transaction(
        id=str(uuid.uuid4()),
        org_id=org,
        request_id=rid,
        scope=f"org:{org}",
        kind=TransactionKind.STANDARD,
        state=TransactionState.POSTED,
        postings=(
            Posting(source.id, Side.DEBIT, amount, "USD"),
            Posting(dest.id, Side.CREDIT, amount, "USD"),
        ),
        metadata={"rid": rid},
        created_at=datetime.now(UTC),
        fingerprint=f"digest-of-{rid}-{amount}",
    )


def chained(locked: Locked, tx: Transaction) -> tuple[dict[str, Balance], list[ChainedEntry]]:
    """The entries of a posted transfer, chained onto the locked balances, and the balances
    after them."""
    balances = {account_id: balance for account_id, (_, balance) in locked.items()}
    links: list[ChainedEntry] = []
    for p in tx.postings:
        entry = Entry(p.account_id, p.asset_code, p.side, Bucket.POSTED, p.amount)
        before = balances[p.account_id]
        seq = before.entry_count + 1
        digest = link(before.head_hash, seq, tx.id, entry, tx.created_at)
        links.append(ChainedEntry(tx.id, entry, tx.created_at, seq, digest))
        balances[p.account_id] = replace(before.plus(entry), entry_count=seq, head_hash=digest)
    return balances, links


async def test_a_claim_inserts_new_transactions_and_finds_repeats(
    port_uow: UowFactory, org: str, two: tuple[Account, Account]
) -> None:
    wallet, funding = two
    first = transfer(org, funding, wallet, 5, "a")
    async with port_uow() as u:
        claim = await u.postings.claim([first], lock=[])
        assert claim.firsts == [None]
        await u.commit()
    again = transfer(org, funding, wallet, 7, "a")
    fresh = transfer(org, funding, wallet, 5, "b")
    async with port_uow() as u:
        claim = await u.postings.claim([again, fresh], lock=[])
        # In the order given: the repeat gets the first, with the first's fingerprint.
        assert claim.firsts == [first, None]
        assert claim.firsts[0] is not None
        assert claim.firsts[0].fingerprint == first.fingerprint
        assert await u.transactions.get(fresh.id) == fresh
        assert await u.transactions.get(again.id) is None


async def test_a_claim_locks_the_accounts_asked_that_exist(
    port_uow: UowFactory, org: str, two: tuple[Account, Account]
) -> None:
    wallet, funding = two
    unknown = str(uuid.uuid4())
    tx = transfer(org, funding, wallet, 5, "a")
    async with port_uow() as u:
        claim = await u.postings.claim([tx], lock=[wallet.id, unknown, funding.id, wallet.id])
        assert sorted(claim.locked) == sorted([wallet.id, funding.id])
        assert claim.locked[wallet.id] == (wallet, Balance())
        assert claim.locked[funding.id][0] == funding
        assert claim.locked[funding.id][1].entry_count == 0
    async with port_uow() as u:
        # Locking alone (no transaction to claim) and nothing to lock at all.
        assert (await u.postings.claim([], lock=[funding.id])).locked.keys() == {funding.id}
        assert await u.postings.claim([], lock=[]) == Claim([], {})


async def test_written_balances_and_entries_are_read_back_after_commit(
    port_uow: UowFactory, org: str, two: tuple[Account, Account]
) -> None:
    wallet, funding = two
    tx = transfer(org, funding, wallet, 500, "a")
    async with port_uow() as u:
        claim = await u.postings.claim([tx], lock=tx.account_ids)
        balances, links = chained(claim.locked, tx)
        await u.postings.write(balances, links)
        # Written, not queued: this unit of work reads them at once.
        assert await u.accounts.balance(wallet.id) == Balance(credits_posted=500)
        await u.commit()
    async with port_uow() as u:
        assert await u.accounts.balance(wallet.id) == Balance(credits_posted=500)
        assert await u.accounts.balance(funding.id) == Balance(debits_posted=500)
        history = await u.accounts.history(funding.id, after=0, limit=10)
        assert [(h.transaction_id, h.entry.amount) for h in history] == [(tx.id, 500)]
        # The next claim finds the chain where the write left it.
        claim = await u.postings.claim([], lock=[funding.id])
        locked = claim.locked[funding.id][1]
        assert (locked.entry_count, locked.head_hash) == (1, links[0].hash)


async def test_discard_withdraws_a_claim_of_this_unit_of_work(
    port_uow: UowFactory, org: str, two: tuple[Account, Account]
) -> None:
    wallet, funding = two
    kept = transfer(org, funding, wallet, 5, "kept")
    refused = transfer(org, wallet, funding, 5, "refused")
    async with port_uow() as u:
        await u.postings.claim([kept, refused], lock=[])
        await u.postings.discard([refused.id])
        await u.commit()
    async with port_uow() as u:
        assert await u.transactions.get(kept.id) == kept
        assert await u.transactions.get(refused.id) is None
        # Its request id is free again.
        retry = transfer(org, wallet, funding, 5, "refused")
        assert (await u.postings.claim([retry], lock=[])).firsts == [None]


async def test_nothing_is_kept_without_commit(
    port_uow: UowFactory, org: str, two: tuple[Account, Account]
) -> None:
    wallet, funding = two
    tx = transfer(org, funding, wallet, 5, "a")
    async with port_uow() as u:
        claim = await u.postings.claim([tx], lock=tx.account_ids)
        await u.postings.write(*chained(claim.locked, tx))
    async with port_uow() as u:
        assert await u.transactions.get(tx.id) is None
        assert await u.accounts.balance(wallet.id) == Balance()
        assert (await u.postings.claim([tx], lock=[])).firsts == [None]
