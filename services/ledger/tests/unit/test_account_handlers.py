"""Account handlers over fakes: wallet opening, idempotent creation, org scoping, pages."""

from __future__ import annotations

import uuid

import pytest

from keel_runtime import paging
from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused
from ledger.app import commands
from ledger.app.access import require_reader, require_writer
from ledger.app.accounts import AccountHandlers
from ledger.domain import errors
from ledger.domain.events import AccountOpened
from ledger.domain.model import AccountKind, Asset, Balance, BalanceBound

from .conftest import FakeDatabase


def owner(org_id: str) -> Caller:
    return Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))


def operator(org_id: str) -> Caller:
    """An internal service acting in the org (the platform's books are opened by services)."""
    return Caller(subject="operator", org_id=org_id, kind="operator")


async def test_open_wallet_twice_opens_one(db: FakeDatabase, accounts: AccountHandlers) -> None:
    org = str(uuid.uuid4())
    first = await accounts.open_wallet(commands.OpenWallet(org, "USD"))
    second = await accounts.open_wallet(commands.OpenWallet(org, "usd"))
    assert first == second
    assert first.kind is AccountKind.WALLET and first.asset == Asset("USD", 2)
    assert first.bound is BalanceBound.DEBITS_MUST_NOT_EXCEED_CREDITS
    assert [type(e) for e in db.state.events] == [AccountOpened]


async def test_create_account_is_idempotent_on_request_id(accounts: AccountHandlers) -> None:
    org = str(uuid.uuid4())
    command = commands.CreateAccount(
        caller=operator(org), kind=AccountKind.REVENUE, asset=Asset("USD", 2), request_id="r1"
    )
    first = await accounts.create_account(command)
    assert await accounts.create_account(command) == first
    with pytest.raises(errors.RequestIdReused):
        await accounts.create_account(
            commands.CreateAccount(
                caller=operator(org),
                kind=AccountKind.EXPENSE,
                asset=Asset("USD", 2),
                request_id="r1",
            )
        )


async def test_asset_scale_is_fixed_per_code(accounts: AccountHandlers) -> None:
    org = str(uuid.uuid4())
    await accounts.create_account(
        commands.CreateAccount(
            caller=operator(org), kind=AccountKind.REVENUE, asset=Asset("USD", 2)
        )
    )
    with pytest.raises(errors.AssetScaleMismatch):
        await accounts.create_account(
            commands.CreateAccount(
                caller=operator(org), kind=AccountKind.EXPENSE, asset=Asset("USD", 3)
            )
        )


async def test_members_cannot_open_accounts(accounts: AccountHandlers) -> None:
    member = Caller(subject="u", org_id=str(uuid.uuid4()), roles=frozenset({"MEMBER"}))
    with pytest.raises(CallerRefused):
        await accounts.create_account(
            commands.CreateAccount(caller=member, kind=AccountKind.REVENUE, asset=Asset("USD", 2))
        )


async def test_other_orgs_accounts_are_not_found(accounts: AccountHandlers) -> None:
    org, other = str(uuid.uuid4()), str(uuid.uuid4())
    wallet = await accounts.open_wallet(commands.OpenWallet(org, "USD"))
    assert await accounts.get_account(commands.GetAccount(owner(org), wallet.id)) == wallet
    with pytest.raises(errors.AccountNotFound):
        await accounts.get_account(commands.GetAccount(owner(other), wallet.id))
    with pytest.raises(errors.AccountNotFound):
        await accounts.get_balance(commands.GetBalance(owner(other), wallet.id))
    page = await accounts.list_accounts(commands.ListAccounts(owner(other)))
    assert page.items == []


async def test_new_wallet_balance_is_zero(accounts: AccountHandlers) -> None:
    org = str(uuid.uuid4())
    wallet = await accounts.open_wallet(commands.OpenWallet(org, "EUR"))
    view = await accounts.get_balance(commands.GetBalance(owner(org), wallet.id))
    assert view.balance == Balance() and view.available == 0


async def test_list_accounts_pages_and_filters(accounts: AccountHandlers) -> None:
    org = str(uuid.uuid4())
    opened = [
        await accounts.create_account(
            commands.CreateAccount(
                caller=operator(org), kind=AccountKind.REVENUE, asset=Asset(code, 2)
            )
        )
        for code in ("USD", "EUR", "GBP")
    ]
    first = await accounts.list_accounts(commands.ListAccounts(owner(org), page_size=2))
    assert first.items == opened[:2] and first.next_page_token
    second = await accounts.list_accounts(
        commands.ListAccounts(owner(org), page_size=2, page_token=first.next_page_token)
    )
    assert second.items == opened[2:] and second.next_page_token == ""
    eur = await accounts.list_accounts(commands.ListAccounts(owner(org), asset_code="EUR"))
    assert eur.items == [opened[1]]
    with pytest.raises(paging.InvalidPageToken):
        await accounts.list_accounts(
            commands.ListAccounts(owner(org), asset_code="EUR", page_token=first.next_page_token)
        )


async def test_services_open_and_list_accounts_of_other_orgs(accounts: AccountHandlers) -> None:
    org = str(uuid.uuid4())
    billing = Caller(subject="billing", org_id=str(uuid.uuid4()), kind="service")
    command = commands.CreateAccount(
        caller=billing,
        kind=AccountKind.REVENUE,
        asset=Asset("USD", 2),
        request_id="rev",
        org_id=org,
    )
    first = await accounts.create_account(command)
    assert first.org_id == org
    assert await accounts.create_account(command) == first
    listed = await accounts.list_accounts(commands.ListAccounts(billing, org_id=org))
    assert listed.items == [first]
    # A user naming another organization sees nothing of it.
    assert (
        await accounts.list_accounts(commands.ListAccounts(owner(str(uuid.uuid4())), org_id=org))
    ).items == []


async def test_api_keys_need_ledger_scopes(accounts: AccountHandlers) -> None:
    org = str(uuid.uuid4())
    wallet = await accounts.open_wallet(commands.OpenWallet(org, "USD"))
    bare = Caller(subject="key", org_id=org, kind="api_key")
    reader = Caller(subject="key", org_id=org, scopes=frozenset({"ledger:read"}), kind="api_key")
    writer = Caller(subject="key", org_id=org, scopes=frozenset({"ledger:write"}), kind="api_key")
    with pytest.raises(CallerRefused):
        await accounts.get_account(commands.GetAccount(bare, wallet.id))
    assert (await accounts.get_account(commands.GetAccount(reader, wallet.id))).id == wallet.id
    with pytest.raises(CallerRefused):
        require_writer(reader)
    require_writer(writer)
    require_reader(writer)
    read_only = Caller(
        subject="key",
        org_id=org,
        roles=frozenset({"READ_ONLY"}),
        scopes=writer.scopes,
        kind="api_key",
    )
    with pytest.raises(CallerRefused):
        require_writer(read_only)  # a key's roles limit its scopes


async def test_batch_get_balances_is_all_or_nothing(accounts: AccountHandlers) -> None:
    org, other = str(uuid.uuid4()), str(uuid.uuid4())
    mine = await accounts.open_wallet(commands.OpenWallet(org, "USD"))
    theirs = await accounts.open_wallet(commands.OpenWallet(other, "USD"))
    views = await accounts.batch_get_balances(commands.BatchGetBalances(owner(org), (mine.id,)))
    assert [(v.account.id, v.balance) for v in views] == [(mine.id, Balance())]
    for ids in [(mine.id, theirs.id), (mine.id, str(uuid.uuid4()))]:
        with pytest.raises(errors.AccountNotFound) as info:
            await accounts.batch_get_balances(commands.BatchGetBalances(owner(org), ids))
        assert info.value.metadata == {"account_id": ids[1]}
    both = await accounts.batch_get_balances(
        commands.BatchGetBalances(operator(org), (theirs.id, mine.id))
    )
    assert [v.account.id for v in both] == [theirs.id, mine.id]
