"""Ledger model: assets, accounts, balances, postings, entries and transactions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

INT64_MAX = 2**63 - 1


class AccountKind(StrEnum):
    WALLET = "WALLET"
    FUNDING = "FUNDING"
    REVENUE = "REVENUE"
    EXPENSE = "EXPENSE"
    RECEIVABLE = "RECEIVABLE"
    PAYABLE = "PAYABLE"
    SUSPENSE = "SUSPENSE"


class BalanceBound(StrEnum):
    NONE = "NONE"
    DEBITS_MUST_NOT_EXCEED_CREDITS = "DEBITS_MUST_NOT_EXCEED_CREDITS"
    CREDITS_MUST_NOT_EXCEED_DEBITS = "CREDITS_MUST_NOT_EXCEED_DEBITS"


class Side(StrEnum):
    DEBIT = "DEBIT"
    CREDIT = "CREDIT"


class Bucket(StrEnum):
    """Which half of a balance an entry moves: posted amounts or pending holds."""

    POSTED = "POSTED"
    PENDING = "PENDING"


class TransactionKind(StrEnum):
    STANDARD = "STANDARD"
    PENDING = "PENDING"
    POST_PENDING = "POST_PENDING"
    VOID_PENDING = "VOID_PENDING"
    EXPIRE_PENDING = "EXPIRE_PENDING"
    REVERSAL = "REVERSAL"


class TransactionState(StrEnum):
    PENDING = "PENDING"
    POSTED = "POSTED"
    VOIDED = "VOIDED"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class Asset:
    code: str
    scale: int


@dataclass(frozen=True)
class Account:
    id: str
    org_id: str
    kind: AccountKind
    asset: Asset
    bound: BalanceBound
    overdraft_limit: int
    metadata: Mapping[str, str]
    created_at: datetime


@dataclass(frozen=True)
class Balance:
    """Running totals of an account; every field is the sum of the account's entries."""

    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0
    # Where the account's hash chain of entries ends (see ledger.domain.chain); not part of
    # the amounts, so not part of equality.
    entry_count: int = field(default=0, compare=False)
    head_hash: bytes = field(default=b"", compare=False)

    def available(self, bound: BalanceBound) -> int:
        if bound is BalanceBound.CREDITS_MUST_NOT_EXCEED_DEBITS:
            return self.debits_posted - self.credits_posted - self.credits_pending
        return self.credits_posted - self.debits_posted - self.debits_pending

    def plus(self, entry: Entry) -> Balance:
        name = f"{entry.side.value.lower()}s_{entry.bucket.value.lower()}"
        return replace(self, **{name: getattr(self, name) + entry.amount})


@dataclass(frozen=True)
class Posting:
    """One requested leg of a transaction."""

    account_id: str
    side: Side
    amount: int
    asset_code: str


@dataclass(frozen=True)
class Entry:
    """One immutable balance movement. ``amount`` is negative only when a hold is released."""

    account_id: str
    asset_code: str
    side: Side
    bucket: Bucket
    amount: int


@dataclass(frozen=True)
class Transaction:
    id: str
    org_id: str
    request_id: str
    kind: TransactionKind
    state: TransactionState
    postings: tuple[Posting, ...]
    metadata: Mapping[str, str]
    created_at: datetime
    expires_at: datetime | None = None
    pending_id: str | None = None
    reversed_id: str | None = None
    resolved_by_id: str | None = None
    fingerprint: str = field(default="", compare=False)
    # Whose request_id it is (ledger.app.access.idempotency_scope): unique per scope.
    scope: str = field(default="", compare=False)

    @property
    def account_ids(self) -> frozenset[str]:
        return frozenset(p.account_id for p in self.postings)


@dataclass(frozen=True)
class HistoryEntry:
    """One entry of an account's history, with the account's balance right after it."""

    sequence: int  # position in the account's history: 1, 2, ... without gaps
    transaction_id: str
    entry: Entry
    created_at: datetime
    balance: Balance
