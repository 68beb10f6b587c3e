"""Commands and queries the ledger handles; those made for a call carry its caller."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from keel_runtime.caller import Caller
from ledger.domain.model import AccountKind, Asset, BalanceBound, Posting


@dataclass(frozen=True)
class OpenWallet:
    """Open an organization's wallet (from identity.organization.created)."""

    org_id: str
    currency: str


@dataclass(frozen=True)
class CreateAccount:
    caller: Caller
    kind: AccountKind
    asset: Asset
    bound: BalanceBound = BalanceBound.NONE
    overdraft_limit: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)
    request_id: str = ""
    org_id: str = ""


@dataclass(frozen=True)
class CreateTransaction:
    caller: Caller
    request_id: str
    postings: tuple[Posting, ...]
    metadata: Mapping[str, str] = field(default_factory=dict)
    pending: bool = False
    expire_at: datetime | None = None
    ttl: timedelta | None = None


@dataclass(frozen=True)
class CreateTransactionBatch:
    caller: Caller
    items: tuple[CreateTransaction, ...]


@dataclass(frozen=True)
class PostPending:
    caller: Caller
    transaction_id: str
    request_id: str
    amount: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VoidPending:
    caller: Caller
    transaction_id: str
    request_id: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReverseTransaction:
    caller: Caller
    transaction_id: str
    request_id: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GetAccount:
    caller: Caller
    account_id: str


@dataclass(frozen=True)
class ListAccounts:
    caller: Caller
    kind: AccountKind | None = None
    asset_code: str = ""
    page_size: int = 0
    page_token: str = ""
    org_id: str = ""


@dataclass(frozen=True)
class GetBalance:
    caller: Caller
    account_id: str
    as_of: datetime | None = None


@dataclass(frozen=True)
class BatchGetBalances:
    caller: Caller
    account_ids: tuple[str, ...]
    as_of: datetime | None = None


@dataclass(frozen=True)
class ListAccountEntries:
    caller: Caller
    account_id: str
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class GetTransaction:
    caller: Caller
    transaction_id: str


@dataclass(frozen=True)
class ListTransactions:
    caller: Caller
    account_id: str
    start: datetime | None = None
    end: datetime | None = None
    page_size: int = 0
    page_token: str = ""


@dataclass(frozen=True)
class VerifyLedger:
    asset_code: str = ""
