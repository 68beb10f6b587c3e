"""Account handlers: open the wallet, create, read, list and balance accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from keel_runtime import paging
from keel_runtime.caller import Caller
from keel_runtime.idempotency import fingerprint, replay
from keel_runtime.ids import new_id
from ledger.app import commands
from ledger.app.access import idempotency_scope, require_reader, require_writer, sees
from ledger.app.ports import Clock, LedgerUnitOfWork, UnitOfWorkFactory
from ledger.domain import errors
from ledger.domain.assets import currency_asset
from ledger.domain.events import AccountOpened
from ledger.domain.model import Account, AccountKind, Balance, BalanceBound, HistoryEntry
from ledger.domain.permissions import check_may_open

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str


@dataclass(frozen=True)
class HistoryPage(Page[HistoryEntry]):
    account: Account  # whose entries (its asset and bound give each balance its meaning)


@dataclass(frozen=True)
class BalanceView:
    account: Account
    balance: Balance
    as_of: datetime

    @property
    def available(self) -> int:
        return self.balance.available(self.account.bound)


class AccountHandlers:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, *, reads: UnitOfWorkFactory | None = None
    ) -> None:
        self._uow = uow
        # Reads may go through units of work without a transaction of their own (read_only).
        self._reads = reads or uow
        self._clock = clock

    async def open_wallet_in(self, uow: LedgerUnitOfWork, command: commands.OpenWallet) -> Account:
        """Open the wallet inside a unit of work the caller owns (an event consumer's)."""
        asset = currency_asset(command.currency)
        # No look-up first: the wallet is almost always new (the event's inbox row stops a
        # repeat), and the unique (org, WALLET, asset) index answers for the rare one that is not.
        account = Account(
            id=new_id(),
            org_id=command.org_id,
            kind=AccountKind.WALLET,
            asset=asset,
            bound=BalanceBound.DEBITS_MUST_NOT_EXCEED_CREDITS,
            overdraft_limit=0,
            metadata={},
            created_at=self._clock(),
        )
        # A wallet's asset is its currency at that currency's scale: whoever opens it may
        # register it.
        await self._check_scale(uow, account, by_platform=False)
        if not await uow.accounts.add(account, scope="", request_id="", fingerprint=""):
            # Opened before, or by a concurrent open: the unique index kept that one.
            winner = await uow.accounts.wallet(command.org_id, asset.code)
            assert winner is not None
            return winner
        uow.record(AccountOpened(account))
        return account

    async def open_wallet(self, command: commands.OpenWallet) -> Account:
        async with self._uow() as uow:
            account = await self.open_wallet_in(uow, command)
            await uow.commit()
        return account

    async def create_account(self, command: commands.CreateAccount) -> Account:
        caller = command.caller
        require_writer(caller)
        org_id = command.org_id or caller.org_id
        if org_id != caller.org_id:
            # Only the platform opens accounts for another organization.
            caller.require_platform()
        # Before the idempotent replay: a repeat must not hand a service's account to a member.
        check_may_open(
            command.kind, command.bound, command.overdraft_limit, by_platform=caller.is_platform
        )
        if (
            command.overdraft_limit
            and command.bound is not BalanceBound.DEBITS_MUST_NOT_EXCEED_CREDITS
        ):
            raise errors.InvalidBalanceBound(
                "an overdraft limit needs the DEBITS_MUST_NOT_EXCEED_CREDITS bound"
            )
        digest = fingerprint(
            {
                "org": org_id,
                "kind": command.kind,
                "asset": [command.asset.code, command.asset.scale],
                "bound": command.bound,
                "overdraft": command.overdraft_limit,
                "metadata": dict(command.metadata),
            }
        )
        account = Account(
            id=new_id(),
            org_id=org_id,
            kind=command.kind,
            asset=command.asset,
            bound=command.bound,
            overdraft_limit=command.overdraft_limit,
            metadata=dict(command.metadata),
            created_at=self._clock(),
        )
        # Request ids are the caller's, as for transactions: a service opening an account
        # for an organization does not take that organization's own keys.
        scope = idempotency_scope(caller, org_id) if command.request_id else ""
        async with self._uow() as uow:
            if command.request_id:
                first = await self._repeat(uow, scope, command.request_id, digest)
                if first is not None:
                    return first
            await self._check_scale(uow, account, by_platform=caller.is_platform)
            if not await uow.accounts.add(
                account, scope=scope, request_id=command.request_id, fingerprint=digest
            ):
                if command.request_id:
                    first = await self._repeat(uow, scope, command.request_id, digest)
                    if first is not None:
                        return first
                raise errors.AccountAlreadyExists(
                    f"org {org_id} already has a {command.kind} account in {command.asset.code}",
                    asset_code=command.asset.code,
                )
            uow.record(AccountOpened(account))
            await uow.commit()
        return account

    @staticmethod
    async def _repeat(
        uow: LedgerUnitOfWork, scope: str, request_id: str, digest: str
    ) -> Account | None:
        found = await uow.accounts.by_request_id(scope, request_id)
        if found is None:
            return None
        account, first_digest = found
        return replay(account, first_digest, digest, lambda first: _reused(request_id))

    @staticmethod
    async def _check_scale(uow: LedgerUnitOfWork, account: Account, *, by_platform: bool) -> None:
        """The account's asset at the scale the ledger knows its code by, registering it when
        new. A code's scale holds for every organization: a customer registers a new one only
        at its currency's scale (ISO 4217 minor units, two places for any other code), so no
        organization can make a currency unusable for the others."""
        asset = account.asset
        if by_platform or asset.scale == currency_asset(asset.code).scale:
            scale = await uow.accounts.register_asset(asset)
        else:
            known = await uow.accounts.asset_scale(asset.code)
            if known is None:
                raise errors.AssetRequiresService(
                    f"asset {asset.code} is new: a service registers it at scale {asset.scale}"
                )
            scale = known
        if scale != asset.scale:
            raise errors.AssetScaleMismatch(
                f"asset {account.asset.code} has scale {scale} in this ledger",
                asset_code=account.asset.code,
                scale=str(scale),
            )

    async def get_account(self, query: commands.GetAccount) -> Account:
        async with self._reads() as uow:
            return await visible_account(uow, query.caller, query.account_id)

    async def list_accounts(self, query: commands.ListAccounts) -> Page[Account]:
        require_reader(query.caller)
        org_id = query.org_id or query.caller.org_id
        if not sees(query.caller, org_id):
            # Another organization's accounts simply do not exist for this caller.
            return Page([], "")
        scope = paging.query_digest("ListAccounts", org_id, query.kind, query.asset_code)
        after = paging.decode_int(query.page_token, scope) or 0
        size = paging.page_size(query.page_size)
        async with self._reads() as uow:
            rows = await uow.accounts.page(
                org_id,
                kind=query.kind,
                asset_code=query.asset_code,
                after=after,
                limit=size + 1,
            )
        token = paging.encode([rows[size - 1][1]], scope) if len(rows) > size else ""
        return Page([account for account, _ in rows[:size]], token)

    async def get_balance(self, query: commands.GetBalance) -> BalanceView:
        async with self._reads() as uow:
            account = await visible_account(uow, query.caller, query.account_id)
            balance = await uow.accounts.balance(account.id, query.as_of)
        return BalanceView(account, balance, query.as_of or self._clock())

    async def batch_get_balances(self, query: commands.BatchGetBalances) -> list[BalanceView]:
        """Several balances read at one instant; all or nothing (AIP-231)."""
        require_reader(query.caller)
        async with self._reads() as uow:
            found = await uow.accounts.balances(query.account_ids, query.as_of)
        as_of = query.as_of or self._clock()
        views: list[BalanceView] = []
        for account_id in query.account_ids:
            pair = found.get(account_id)
            if pair is None or not sees(query.caller, pair[0].org_id):
                raise errors.AccountNotFound(
                    f"account {account_id} not found", account_id=account_id
                )
            views.append(BalanceView(pair[0], pair[1], as_of))
        return views

    async def list_entries(self, query: commands.ListAccountEntries) -> HistoryPage:
        scope = paging.query_digest("ListAccountEntries", query.account_id)
        after = paging.decode_int(query.page_token, scope) or 0
        size = paging.page_size(query.page_size)
        async with self._reads() as uow:
            account = await visible_account(uow, query.caller, query.account_id)
            found = await uow.accounts.history(query.account_id, after=after, limit=size + 1)
        token = paging.encode([found[size - 1].sequence], scope) if len(found) > size else ""
        return HistoryPage(found[:size], token, account)


async def visible_account(uow: LedgerUnitOfWork, caller: Caller, account_id: str) -> Account:
    """The account if the caller may see it; another org's account is simply not found."""
    require_reader(caller)
    account = await uow.accounts.get(account_id)
    if account is None or not sees(caller, account.org_id):
        raise errors.AccountNotFound(f"account {account_id} not found", account_id=account_id)
    return account


def _reused(request_id: str) -> errors.RequestIdReused:
    return errors.RequestIdReused(
        f"request_id {request_id!r} was used with a different payload", request_id=request_id
    )
