"""Commands and queries the ledger handles, and the caller issuing them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledger.domain.model import AccountKind, Asset, BalanceBound, Posting

# Roles that may move money or open accounts in their own organization.
WRITER_ROLES = frozenset({"OWNER", "ADMIN"})
READ_SCOPE = "ledger:read"
WRITE_SCOPE = "ledger:write"


@dataclass(frozen=True)
class Caller:
    """Who issues a command: a member of one organization, an API key, or an internal service."""

    org_id: str
    subject: str = ""
    roles: frozenset[str] = frozenset()
    is_service: bool = False
    scopes: frozenset[str] = frozenset()
    is_api_key: bool = False

    @property
    def idempotency_scope(self) -> str:
        """Whose request ids these are: the organization's, or one service's acting for it.

        Members and API keys of an organization share its keys (a retry may come from
        either); each internal service has its own, so a tenant's ``invoice:<id>`` never
        collides with billing paying that invoice.
        """
        return self.idempotency_scope_in(self.org_id)

    def idempotency_scope_in(self, org_id: str) -> str:
        """The scope of request ids of acts for ``org_id`` (a service may act for another)."""
        if self.is_service:
            return f"org:{org_id}/service:{self.subject}"
        return f"org:{org_id}"

    def can_see(self, org_id: str) -> bool:
        return self.is_service or org_id == self.org_id

    @property
    def can_read(self) -> bool:
        # Every member may read; an API key only with a ledger scope.
        return not self.is_api_key or bool(self.scopes & {READ_SCOPE, WRITE_SCOPE})

    @property
    def can_write(self) -> bool:
        if self.is_api_key:
            # The intersection: the scope, and the key's roles (when it carries any).
            return WRITE_SCOPE in self.scopes and (
                not self.roles or bool(self.roles & WRITER_ROLES)
            )
        return self.is_service or bool(self.roles & WRITER_ROLES) or WRITE_SCOPE in self.scopes


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
