"""Tenant isolation held by PostgreSQL itself, as the runtime role the ledger serves with.

Row-level security on accounts, transactions, balances and entries (migration 0007): a
query that forgot its org filter still returns nothing of another organization, a write for
another organization is refused, the platform's scope reaches every organization, the jobs
(expiry sweeper, checkpoints, VerifyLedger, group commit) still work across organizations,
and the runtime role can neither switch the policies off nor change the schema.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.exc import ProgrammingError

from keel_runtime import context
from keel_runtime.caller import Caller
from keel_runtime.context import Principal
from keel_runtime.db import PLATFORM, acting_for
from keel_runtime.testing import ROW_SECURITY_LIFTS, row_security_flags
from ledger.app import commands
from ledger.app.accounts import AccountHandlers
from ledger.app.checkpoints import Checkpointer
from ledger.app.group_commit import GroupCommitter
from ledger.app.queries import QueryHandlers
from ledger.app.transactions import TransactionHandlers
from ledger.domain import errors
from ledger.domain.checkpoint import CheckpointKey
from ledger.domain.model import Account, AccountKind, Asset, Posting, Side, TransactionState
from ledger.storage.tables import accounts as accounts_table
from ledger.storage.tables import balances, entries, transactions
from ledger.storage.uow import SqlUnitOfWork

pytestmark = pytest.mark.integration

UowFactory = Callable[[], SqlUnitOfWork]
PLATFORM_ORG = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Tenant:
    org: str
    owner: Caller
    wallet: Account
    funding: Account  # in the tenant's organization, opened by a Keel service


def transfer(
    caller: Caller, source: Account, dest: Account, amount: int, **kw: object
) -> commands.CreateTransaction:
    legs = (
        Posting(source.id, Side.DEBIT, amount, "USD"),
        Posting(dest.id, Side.CREDIT, amount, "USD"),
    )
    return commands.CreateTransaction(caller, uuid.uuid4().hex, legs, **kw)  # type: ignore[arg-type]


def service(org: str) -> Caller:
    return Caller(subject="billing", org_id=org, kind="service")


async def tenant(accounts: AccountHandlers, transactions: TransactionHandlers) -> Tenant:
    """A funded wallet, set up by the platform (the fixtures' default scope)."""
    org = str(uuid.uuid4())
    wallet = await accounts.open_wallet(commands.OpenWallet(org, "USD"))
    funding = await accounts.create_account(
        commands.CreateAccount(service(org), AccountKind.FUNDING, Asset("USD", 2))
    )
    await transactions.create(transfer(service(org), funding, wallet, 1_000))
    owner = Caller(subject="owner", org_id=org, roles=frozenset({"OWNER"}))
    return Tenant(org, owner, wallet, funding)


@pytest.fixture
async def two(
    accounts: AccountHandlers, transactions: TransactionHandlers
) -> tuple[Tenant, Tenant]:
    return await tenant(accounts, transactions), await tenant(accounts, transactions)


async def visible(uow: UowFactory) -> dict[str, set[str]]:
    """Every row id of the policed tables the unit of work sees, with no filter at all."""
    async with uow() as u:
        conn = u._transaction.connection
        return {
            "accounts": set((await conn.scalars(select(accounts_table.c.id))).all()),
            "balances": set((await conn.scalars(select(balances.c.account_id))).all()),
            "entries": set((await conn.scalars(select(entries.c.account_id))).all()),
            "transactions": set((await conn.scalars(select(transactions.c.org_id))).all()),
        }


async def test_a_query_without_its_org_filter_sees_only_the_acting_org(
    uow: UowFactory, two: tuple[Tenant, Tenant]
) -> None:
    a, b = two
    with acting_for(a.org):
        seen = await visible(uow)
        async with uow() as u:
            # The repositories, asked for the other organization's rows, find nothing.
            assert await u.accounts.get(b.wallet.id) is None
            assert await u.accounts.wallet(b.org, "USD") is None
            assert await u.accounts.history(b.wallet.id, after=0, limit=10) == []
            claim = await u.postings.claim([], lock=[b.wallet.id, b.funding.id])
            assert claim.locked == {}
    mine = {a.wallet.id, a.funding.id}
    assert seen == {"accounts": mine, "balances": mine, "entries": mine, "transactions": {a.org}}


async def test_the_platform_scope_sees_every_organization(
    uow: UowFactory, two: tuple[Tenant, Tenant]
) -> None:
    with acting_for(PLATFORM):
        seen = await visible(uow)
    assert {t.wallet.id for t in two} <= seen["accounts"]
    assert {t.org for t in two} <= seen["transactions"]


async def test_without_an_organization_nothing_is_visible_or_writable(
    engine_uow: UowFactory, two: tuple[Tenant, Tenant]
) -> None:
    # No principal and no acting_for: the unit of work acts for no organization.
    assert await visible(engine_uow) == {
        "accounts": set(),
        "balances": set(),
        "entries": set(),
        "transactions": set(),
    }
    handlers = AccountHandlers(engine_uow, lambda: datetime.now(UTC))
    with pytest.raises(ProgrammingError, match="row-level security"):
        await handlers.open_wallet(commands.OpenWallet(str(uuid.uuid4()), "USD"))


async def test_a_tenant_cannot_write_for_another_organization(
    uow: UowFactory, accounts: AccountHandlers, two: tuple[Tenant, Tenant]
) -> None:
    a, b = two
    with acting_for(a.org):
        # A handler bug that opened the account in another organization: refused below it.
        with pytest.raises(ProgrammingError, match="row-level security"):
            await accounts.open_wallet(commands.OpenWallet(b.org, "EUR"))
        async with uow() as u:
            with pytest.raises(ProgrammingError, match="row-level security"):
                await u._transaction.connection.execute(
                    accounts_table.update()
                    .where(accounts_table.c.id == a.wallet.id)
                    .values(org_id=b.org)
                )


async def test_a_tenant_posting_to_another_organization_finds_no_account(
    transactions: TransactionHandlers, two: tuple[Tenant, Tenant]
) -> None:
    a, b = two
    # Even as a Keel service (the application lets it cross), acting for one organization
    # the database shows no account of another.
    with acting_for(a.org), pytest.raises(errors.AccountNotFound):
        await transactions.create(transfer(service(a.org), a.wallet, b.wallet, 10))


async def test_a_platform_transfer_into_a_wallet_is_that_tenant_history_too(
    uow: UowFactory,
    accounts: AccountHandlers,
    transactions: TransactionHandlers,
    queries: QueryHandlers,
    two: tuple[Tenant, Tenant],
) -> None:
    a, b = two
    revenue = await accounts.create_account(
        commands.CreateAccount(service(PLATFORM_ORG), AccountKind.REVENUE, Asset("USD", 2))
    )
    # Billing acting for the tenant pays from its wallet into the platform's revenue account.
    paid = await transactions.create(transfer(service(a.org), a.wallet, revenue, 30))
    # The platform funds a wallet from its own account: a transaction of the platform's org.
    gift = await transactions.create(transfer(service(PLATFORM_ORG), revenue, a.wallet, 5))
    with acting_for(a.org):
        page = await queries.list_transactions(
            commands.ListTransactions(a.owner, a.wallet.id, page_size=10)
        )
        assert {paid.id, gift.id} <= {tx.id for tx in page.items}
        got = await queries.get_transaction(commands.GetTransaction(a.owner, gift.id))
        assert got.id == gift.id
    with acting_for(b.org):
        with pytest.raises(errors.TransactionNotFound):
            await queries.get_transaction(commands.GetTransaction(b.owner, gift.id))
        async with uow() as u:
            assert await u.transactions.get(paid.id) is None


async def test_the_sweeper_releases_holds_of_every_organization(
    uow: UowFactory, engine_uow: UowFactory, accounts: AccountHandlers,
    transactions: TransactionHandlers, two: tuple[Tenant, Tenant],
) -> None:  # fmt: skip
    a, b = two
    holds = []
    for t in two:
        # Each tenant's own hold (it is released acting for that tenant)...
        with acting_for(t.org):
            holds.append(
                await transactions.create(
                    transfer(t.owner, t.wallet, t.funding, 100, pending=True, ttl=timedelta(1))
                )
            )
    # ...and one a Keel service made across both organizations (released as the platform).
    holds.append(
        await transactions.create(
            transfer(service(a.org), a.wallet, b.wallet, 7, pending=True, ttl=timedelta(1))
        )
    )
    # The server's factory: the sweeper names its scopes itself.
    later = TransactionHandlers(engine_uow, lambda: datetime.now(UTC) + timedelta(days=2))
    assert await later.expire_due() == 3
    async with uow() as u:
        states = [(await u.transactions.get(h.id)) for h in holds]
    assert [s.state if s else None for s in states] == [TransactionState.EXPIRED] * 3
    for t in two:
        with acting_for(t.org):
            view = await accounts.get_balance(commands.GetBalance(t.owner, t.wallet.id))
        assert (view.balance.debits_pending, view.available) == (0, 1_000)


async def test_checkpoints_and_the_audit_cover_every_organization(
    engine_uow: UowFactory, two: tuple[Tenant, Tenant]
) -> None:
    # The server's factory, no principal: the jobs name the platform's scope themselves.
    checkpointer = Checkpointer(engine_uow, lambda: datetime.now(UTC), CheckpointKey.generate())
    checkpoint = await checkpointer.take()
    report = await QueryHandlers(engine_uow, lambda: datetime.now(UTC), checkpointer).verify(
        commands.VerifyLedger()
    )
    assert checkpoint is not None
    covered = {head.account_id for head in checkpoint.heads}
    assert {t.wallet.id for t in two} | {t.funding.id for t in two} <= covered
    assert report.ok, report.violations
    assert report.accounts_checked >= 4


async def test_group_commit_keeps_each_tenant_in_its_own_transaction(
    engine_uow: UowFactory, accounts: AccountHandlers, two: tuple[Tenant, Tenant]
) -> None:
    # The server's factory: each group acts for its requests' organization.
    committer = GroupCommitter(
        TransactionHandlers(engine_uow, lambda: datetime.now(UTC)), max_group=16, workers=1
    )
    worker = asyncio.create_task(committer.run())

    async def spend(t: Tenant, amount: int) -> object:
        # As the server calls it: the caller's verified principal is bound.
        principal = Principal(subject="owner", org_id=t.org, roles=frozenset({"OWNER"}))
        with context.bound(principal=principal):
            return await committer.create(transfer(t.owner, t.wallet, t.funding, amount))

    try:
        results = await asyncio.gather(
            *(spend(t, n) for t in two for n in (1, 2, 3)), return_exceptions=True
        )
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    for t in two:
        with acting_for(t.org):
            view = await accounts.get_balance(commands.GetBalance(t.owner, t.wallet.id))
        assert view.available == 1_000 - 6


POLICED = ("accounts", "transactions", "balances", "entries")


@pytest.mark.parametrize("table", POLICED)
@pytest.mark.parametrize("statement", ROW_SECURITY_LIFTS)
def test_the_runtime_role_cannot_lift_the_policies(
    runtime_url: str, table: str, statement: str
) -> None:
    with (
        psycopg.connect(runtime_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement.format(table))


def test_the_policed_tables_force_row_level_security(runtime_url: str) -> None:
    rows = row_security_flags(runtime_url, POLICED)
    assert rows == [(t, True, True) for t in sorted(POLICED)]
