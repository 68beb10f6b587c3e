"""Customers cannot mint money: which accounts they may open and which they may debit."""

from __future__ import annotations

import uuid

import pytest

from keel_runtime.caller import Caller
from ledger.app import commands
from ledger.app.accounts import AccountHandlers
from ledger.app.transactions import TransactionHandlers
from ledger.domain import errors
from ledger.domain.model import Account, AccountKind, Asset, BalanceBound, Posting, Side
from ledger.domain.permissions import CUSTOMER_KINDS, SYSTEM_KINDS

from .conftest import FakeDatabase

USD = Asset("USD", 2)
BOUNDED = BalanceBound.DEBITS_MUST_NOT_EXCEED_CREDITS


@pytest.fixture
def org() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def owner(org: str) -> Caller:
    return Caller(subject="u", org_id=org, roles=frozenset({"OWNER"}))


@pytest.fixture
def operator(org: str) -> Caller:
    return Caller(subject="operator", org_id=org, kind="operator")


def api_key(org: str) -> Caller:
    scopes = frozenset({"ledger:read", "ledger:write"})
    return Caller(subject="key", org_id=org, scopes=scopes, kind="api_key")


def admin(org: str) -> Caller:
    return Caller(subject="admin", org_id=org, roles=frozenset({"ADMIN"}))


def customers(org: str) -> list[Caller]:
    """Every writer that is not an internal service: OWNER, ADMIN, an API key with ledger:write."""
    return [
        Caller(subject="owner", org_id=org, roles=frozenset({"OWNER"})),
        admin(org),
        api_key(org),
    ]


def transfer(
    caller: Caller, source: Account, dest: Account, amount: int, rid: str, **kw: object
) -> commands.CreateTransaction:
    code = source.asset.code
    legs = (
        Posting(source.id, Side.DEBIT, amount, code),
        Posting(dest.id, Side.CREDIT, amount, code),
    )
    return commands.CreateTransaction(caller=caller, request_id=rid, postings=legs, **kw)  # type: ignore[arg-type]


async def open_as(
    accounts: AccountHandlers,
    caller: Caller,
    kind: AccountKind,
    bound: BalanceBound = BalanceBound.NONE,
    overdraft: int = 0,
    asset: Asset = USD,
    rid: str = "",
) -> Account:
    return await accounts.create_account(
        commands.CreateAccount(
            caller=caller,
            kind=kind,
            asset=asset,
            bound=bound,
            overdraft_limit=overdraft,
            request_id=rid,
        )
    )


def test_every_kind_but_the_wallet_is_the_platforms() -> None:
    assert {AccountKind.WALLET} == CUSTOMER_KINDS
    assert set(AccountKind) - {AccountKind.WALLET} == SYSTEM_KINDS


@pytest.mark.parametrize("kind", sorted(SYSTEM_KINDS))
async def test_customers_cannot_open_system_accounts(
    db: FakeDatabase, accounts: AccountHandlers, org: str, kind: AccountKind
) -> None:
    for caller in customers(org):
        for bound in BalanceBound:
            with pytest.raises(errors.SystemAccountRequiresService) as info:
                await open_as(accounts, caller, kind, bound)
            assert info.value.reason == "SYSTEM_ACCOUNT_REQUIRES_SERVICE"
            assert isinstance(info.value, errors.Forbidden)
    assert db.state.accounts == {} and db.state.events == []


@pytest.mark.parametrize("bound", [BalanceBound.NONE, BalanceBound.CREDITS_MUST_NOT_EXCEED_DEBITS])
async def test_customers_cannot_open_unbounded_wallets(
    db: FakeDatabase, accounts: AccountHandlers, org: str, bound: BalanceBound
) -> None:
    for caller in customers(org):
        with pytest.raises(errors.UnboundedAccountRequiresService) as info:
            await open_as(accounts, caller, AccountKind.WALLET, bound, asset=Asset("EUR", 2))
        assert info.value.reason == "UNBOUNDED_ACCOUNT_REQUIRES_SERVICE"
    assert db.state.accounts == {}


async def test_customers_cannot_grant_themselves_an_overdraft(
    accounts: AccountHandlers, owner: Caller
) -> None:
    with pytest.raises(errors.OverdraftRequiresService) as info:
        await open_as(accounts, owner, AccountKind.WALLET, BOUNDED, overdraft=500)
    assert info.value.reason == "OVERDRAFT_REQUIRES_SERVICE"


async def test_customers_open_bounded_wallets(accounts: AccountHandlers, owner: Caller) -> None:
    eur = await open_as(accounts, owner, AccountKind.WALLET, BOUNDED, asset=Asset("EUR", 2))
    assert (eur.kind, eur.bound, eur.overdraft_limit) == (AccountKind.WALLET, BOUNDED, 0)


async def test_services_open_system_and_unbounded_accounts(
    accounts: AccountHandlers, operator: Caller
) -> None:
    for kind in sorted(SYSTEM_KINDS):
        opened = await open_as(accounts, operator, kind)
        assert (opened.kind, opened.bound) == (kind, BalanceBound.NONE)
    credit_line = await open_as(accounts, operator, AccountKind.WALLET, BOUNDED, overdraft=500)
    assert credit_line.overdraft_limit == 500


async def test_a_repeat_does_not_hand_a_services_account_to_a_customer(
    accounts: AccountHandlers, owner: Caller, operator: Caller
) -> None:
    await open_as(accounts, operator, AccountKind.FUNDING, rid="same")
    with pytest.raises(errors.SystemAccountRequiresService):
        await open_as(accounts, owner, AccountKind.FUNDING, rid="same")


@pytest.fixture
async def books(
    accounts: AccountHandlers, org: str, operator: Caller
) -> tuple[Account, Account, Account]:
    """The org's wallet, and a funding and a credit-bounded account the operator opened in it."""
    wallet = await accounts.open_wallet(commands.OpenWallet(org, "USD"))
    funding = await open_as(accounts, operator, AccountKind.FUNDING)
    receivable = await open_as(
        accounts, operator, AccountKind.RECEIVABLE, BalanceBound.CREDITS_MUST_NOT_EXCEED_DEBITS
    )
    return wallet, funding, receivable


async def test_customers_cannot_debit_unbounded_accounts_into_their_wallet(
    db: FakeDatabase,
    accounts: AccountHandlers,
    transactions: TransactionHandlers,
    org: str,
    owner: Caller,
    books: tuple[Account, Account, Account],
) -> None:
    wallet, funding, receivable = books
    for caller in customers(org):
        for source in (funding, receivable):
            for pending in (False, True):
                rid = f"mint-{caller.subject}-{source.kind}-{pending}"
                with pytest.raises(errors.UnboundedDebitRequiresService) as info:
                    await transactions.create(
                        transfer(caller, source, wallet, 1_000_000, rid, pending=pending)
                    )
                assert info.value.reason == "UNBOUNDED_DEBIT_REQUIRES_SERVICE"
                assert info.value.metadata == {"account_id": source.id}
            batch = commands.CreateTransactionBatch(
                caller, (transfer(caller, source, wallet, 1, f"b-{caller.subject}"),)
            )
            with pytest.raises(errors.UnboundedDebitRequiresService):
                await transactions.create_batch(batch)
    assert db.state.transactions == {} and db.state.entries == []
    view = await accounts.get_balance(commands.GetBalance(owner, wallet.id))
    assert view.available == 0


async def test_customers_spend_only_what_the_wallet_holds(
    accounts: AccountHandlers,
    transactions: TransactionHandlers,
    owner: Caller,
    operator: Caller,
    books: tuple[Account, Account, Account],
) -> None:
    wallet, funding, _ = books
    with pytest.raises(errors.InsufficientFunds):
        await transactions.create(transfer(owner, wallet, funding, 1, "overdraw"))
    await transactions.create(transfer(operator, funding, wallet, 100, "fund"))
    await transactions.create(transfer(owner, wallet, funding, 100, "spend"))
    with pytest.raises(errors.InsufficientFunds):
        await transactions.create(transfer(owner, wallet, funding, 1, "overdraw-2"))
    view = await accounts.get_balance(commands.GetBalance(owner, wallet.id))
    assert view.available == 0


async def test_customers_spend_an_overdraft_a_service_granted(
    accounts: AccountHandlers,
    transactions: TransactionHandlers,
    owner: Caller,
    operator: Caller,
) -> None:
    eur = Asset("EUR", 2)
    credit_line = await open_as(accounts, operator, AccountKind.WALLET, BOUNDED, 50, eur)
    funding = await open_as(accounts, operator, AccountKind.FUNDING, asset=eur)
    await transactions.create(transfer(owner, credit_line, funding, 50, "use-line"))
    with pytest.raises(errors.InsufficientFunds):
        await transactions.create(transfer(owner, credit_line, funding, 1, "beyond"))


async def test_customers_cannot_post_a_services_hold_out_of_funding(
    accounts: AccountHandlers,
    transactions: TransactionHandlers,
    owner: Caller,
    operator: Caller,
    books: tuple[Account, Account, Account],
) -> None:
    wallet, funding, _ = books
    hold = await transactions.create(transfer(operator, funding, wallet, 100, "hold", pending=True))
    with pytest.raises(errors.UnboundedDebitRequiresService):
        await transactions.post_pending(commands.PostPending(owner, hold.id, "take"))
    _, posted = await transactions.post_pending(commands.PostPending(operator, hold.id, "post"))
    assert posted.state.value == "POSTED"
    view = await accounts.get_balance(commands.GetBalance(owner, wallet.id))
    assert view.available == 100


async def test_customers_post_and_void_their_own_holds(
    transactions: TransactionHandlers,
    owner: Caller,
    operator: Caller,
    books: tuple[Account, Account, Account],
) -> None:
    wallet, funding, _ = books
    await transactions.create(transfer(operator, funding, wallet, 100, "fund"))
    hold = await transactions.create(transfer(owner, wallet, funding, 60, "h1", pending=True))
    await transactions.post_pending(commands.PostPending(owner, hold.id, "p1", amount=20))
    other = await transactions.create(transfer(owner, wallet, funding, 30, "h2", pending=True))
    _, voided = await transactions.void_pending(commands.VoidPending(owner, other.id, "v2"))
    assert voided.state.value == "VOIDED"


async def test_customers_cannot_reverse_money_out_of_an_unbounded_account(
    accounts: AccountHandlers,
    transactions: TransactionHandlers,
    owner: Caller,
    operator: Caller,
    books: tuple[Account, Account, Account],
) -> None:
    wallet, funding, _ = books
    await transactions.create(transfer(operator, funding, wallet, 100, "fund"))
    paid = await transactions.create(transfer(owner, wallet, funding, 40, "pay"))
    # Reversing the payment would debit the funding account: a refund is the platform's act.
    with pytest.raises(errors.UnboundedDebitRequiresService):
        await transactions.reverse(commands.ReverseTransaction(owner, paid.id, "undo"))
    await transactions.reverse(commands.ReverseTransaction(operator, paid.id, "refund"))
    view = await accounts.get_balance(commands.GetBalance(owner, wallet.id))
    assert view.available == 100
