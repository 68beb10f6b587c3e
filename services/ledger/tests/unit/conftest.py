"""In-memory fakes of the ledger's ports, so handlers are tested without I/O."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

import pytest

from ledger.app.accounts import AccountHandlers
from ledger.app.ports import Claim
from ledger.app.queries import QueryHandlers
from ledger.app.transactions import TransactionHandlers
from ledger.domain.audit import LedgerReport, Violation
from ledger.domain.chain import ChainedEntry
from ledger.domain.events import DomainEvent
from ledger.domain.model import (
    Account,
    AccountKind,
    Asset,
    Balance,
    Entry,
    HistoryEntry,
    Transaction,
    TransactionKind,
    TransactionState,
)


@dataclass
class State:
    """What the fake database holds; copied per unit of work, kept only on commit."""

    assets: dict[str, int] = field(default_factory=dict)
    # account, its request key (scope and request id, or ''), fingerprint, sequence
    accounts: dict[str, tuple[Account, str, str, int]] = field(default_factory=dict)
    balances: dict[str, Balance] = field(default_factory=dict)
    transactions: dict[str, tuple[Transaction, int]] = field(default_factory=dict)
    entries: list[tuple[str, Entry, datetime]] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)


class FakeAccounts:
    def __init__(self, state: State, seq: itertools.count[int]) -> None:
        self.s = state
        self.seq = seq

    async def register_asset(self, asset: Asset) -> int:
        return self.s.assets.setdefault(asset.code, asset.scale)

    async def asset_scale(self, code: str) -> int | None:
        return self.s.assets.get(code)

    async def add(self, account: Account, *, scope: str, request_id: str, fingerprint: str) -> bool:
        key = f"{scope} {request_id}" if request_id else ""
        for other, rid, _, _ in self.s.accounts.values():
            if (key and rid == key) or (
                other.org_id == account.org_id
                and (
                    account.kind is AccountKind.WALLET
                    and other.kind is AccountKind.WALLET
                    and other.asset.code == account.asset.code
                )
            ):
                return False
        self.s.accounts[account.id] = (account, key, fingerprint, next(self.seq))
        self.s.balances[account.id] = Balance()
        return True

    async def get(self, account_id: str) -> Account | None:
        found = self.s.accounts.get(account_id)
        return found[0] if found else None

    async def by_request_id(self, scope: str, request_id: str) -> tuple[Account, str] | None:
        for account, rid, digest, _ in self.s.accounts.values():
            if rid == f"{scope} {request_id}":
                return account, digest
        return None

    async def wallet(self, org_id: str, asset_code: str) -> Account | None:
        for account, *_ in self.s.accounts.values():
            if (
                account.org_id == org_id
                and account.kind is AccountKind.WALLET
                and account.asset.code == asset_code
            ):
                return account
        return None

    async def page(
        self, org_id: str, *, kind: AccountKind | None, asset_code: str, after: int, limit: int
    ) -> list[tuple[Account, int]]:
        found = sorted(
            (
                (a, seq)
                for a, _, _, seq in self.s.accounts.values()
                if a.org_id == org_id
                and seq > after
                and (kind is None or a.kind is kind)
                and (not asset_code or a.asset.code == asset_code)
            ),
            key=lambda pair: pair[1],
        )
        return found[:limit]

    async def balance(self, account_id: str, as_of: datetime | None = None) -> Balance:
        if as_of is None:
            return self.s.balances[account_id]
        total = Balance()
        for _, entry, at in self.s.entries:
            if entry.account_id == account_id and at <= as_of:
                total = total.plus(entry)
        return total

    async def balances(
        self, account_ids: Sequence[str], as_of: datetime | None = None
    ) -> dict[str, tuple[Account, Balance]]:
        return {
            i: (self.s.accounts[i][0], await self.balance(i, as_of))
            for i in account_ids
            if i in self.s.accounts
        }

    async def history(self, account_id: str, *, after: int, limit: int) -> list[HistoryEntry]:
        lines: list[HistoryEntry] = []
        running = Balance()
        for transaction_id, entry, at in self.s.entries:
            if entry.account_id != account_id:
                continue
            running = replace(running.plus(entry), entry_count=running.entry_count + 1)
            if running.entry_count > after:
                lines.append(HistoryEntry(running.entry_count, transaction_id, entry, at, running))
        return lines[:limit]


class FakeTransactions:
    def __init__(self, state: State, seq: itertools.count[int]) -> None:
        self.s = state
        self.seq = seq

    async def get(self, transaction_id: str, *, lock: bool = False) -> Transaction | None:
        found = self.s.transactions.get(transaction_id)
        return found[0] if found else None

    async def resolve(self, transaction_id: str, state: TransactionState, resolved_by: str) -> None:
        tx, seq = self.s.transactions[transaction_id]
        self.s.transactions[transaction_id] = (
            replace(tx, state=state, resolved_by_id=resolved_by),
            seq,
        )

    async def page_for_account(
        self,
        account_id: str,
        *,
        start: datetime | None,
        end: datetime | None,
        before: int | None,
        limit: int,
    ) -> list[tuple[Transaction, int]]:
        touching = {tid for tid, e, _ in self.s.entries if e.account_id == account_id}
        found = [
            (tx, seq)
            for tx, seq in self.s.transactions.values()
            if tx.id in touching
            and (start is None or tx.created_at >= start)
            and (end is None or tx.created_at < end)
            and (before is None or seq < before)
        ]
        return sorted(found, key=lambda pair: -pair[1])[:limit]

    async def due_holds(self, now: datetime, limit: int) -> list[str]:
        return [
            tx.id
            for tx, _ in self.s.transactions.values()
            if tx.kind is TransactionKind.PENDING
            and tx.state is TransactionState.PENDING
            and tx.expires_at is not None
            and tx.expires_at <= now
        ][:limit]

    async def verify(self, asset_code: str, now: datetime) -> LedgerReport:
        net: dict[tuple[str, str], int] = {}
        for _, e, _ in self.s.entries:
            key = (e.asset_code, e.bucket.value)
            net[key] = net.get(key, 0) + (e.amount if e.side.value == "DEBIT" else -e.amount)
        violations = tuple(
            Violation("UNBALANCED_ASSET", asset_code=k[0], detail=str(v))
            for k, v in net.items()
            if v
        )
        return LedgerReport(violations, len(self.s.accounts), len(self.s.entries), now)


class FakePostings:
    """The write path: claims and entries as PostgreSQL's ``SqlPostings`` writes them, and
    its locks, which only read here (a fake unit of work runs alone)."""

    def __init__(self, state: State, seq: itertools.count[int]) -> None:
        self.s = state
        self.seq = seq

    async def claim(self, transactions: Sequence[Transaction], *, lock: Iterable[str]) -> Claim:
        firsts = [self._claim(t) for t in transactions]
        locked = {
            i: (self.s.accounts[i][0], self.s.balances[i])
            for i in sorted(set(lock))
            if i in self.s.accounts
        }
        return Claim(firsts, locked)

    def _claim(self, transaction: Transaction) -> Transaction | None:
        assert transaction.scope, "every transaction is claimed in its caller's scope"
        for tx, _ in self.s.transactions.values():
            if tx.scope == transaction.scope and tx.request_id == transaction.request_id:
                return tx
        self.s.transactions[transaction.id] = (transaction, next(self.seq))
        return None

    async def write(self, balances: Mapping[str, Balance], entries: Sequence[ChainedEntry]) -> None:
        self.s.balances.update(balances)
        self.s.entries.extend((c.transaction_id, c.entry, c.created_at) for c in entries)

    async def discard(self, transaction_ids: Sequence[str]) -> None:
        for transaction_id in transaction_ids:
            del self.s.transactions[transaction_id]


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.committed = False
        self.acting_for = ""

    async def __aenter__(self) -> Self:
        self.state = copy.deepcopy(self.db.state)
        self.accounts = FakeAccounts(self.state, self.db.seq)
        self.transactions = FakeTransactions(self.state, self.db.seq)
        self.postings = FakePostings(self.state, self.db.seq)
        self.recorded: list[DomainEvent] = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.recorded = []

    def record(self, *events: DomainEvent) -> None:
        self.recorded.extend(events)

    async def act_for(self, org_id: str) -> None:
        self.acting_for = org_id  # the fake has no row-level security: only noted

    async def commit(self) -> None:
        self.state.events.extend(self.recorded)
        self.db.state = self.state
        self.recorded = []
        self.committed = True


class FakeDatabase:
    def __init__(self) -> None:
        self.state = State()
        self.seq = itertools.count(1)

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def accounts(db: FakeDatabase, clock: FakeClock) -> AccountHandlers:
    return AccountHandlers(db.uow, clock)


@pytest.fixture
def transactions(db: FakeDatabase, clock: FakeClock) -> TransactionHandlers:
    return TransactionHandlers(db.uow, clock)


@pytest.fixture
def queries(db: FakeDatabase, clock: FakeClock) -> QueryHandlers:
    return QueryHandlers(db.uow, clock)
