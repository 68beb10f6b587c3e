"""Ports the application layer needs; storage implements them, unit tests fake them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from keel_runtime.ports import TransactionPort
from ledger.domain.audit import LedgerReport
from ledger.domain.chain import ChainedEntry
from ledger.domain.checkpoint import Checkpoint, CheckpointKey
from ledger.domain.events import DomainEvent
from ledger.domain.model import (
    Account,
    AccountKind,
    Asset,
    Balance,
    HistoryEntry,
    Transaction,
    TransactionState,
)

Clock = Callable[[], datetime]


class Accounts(Protocol):
    async def register_asset(self, asset: Asset) -> int:
        """Record the asset if new; return the scale the ledger knows the code by."""

    async def add(self, account: Account, *, scope: str, request_id: str, fingerprint: str) -> bool:
        """Insert; False (and nothing written) if the scope's request id or the org's wallet
        exists."""

    async def get(self, account_id: str) -> Account | None: ...

    async def by_request_id(self, scope: str, request_id: str) -> tuple[Account, str] | None:
        """The account created with this request id in this scope, and its payload
        fingerprint."""

    async def wallet(self, org_id: str, asset_code: str) -> Account | None: ...

    async def page(
        self,
        org_id: str,
        *,
        kind: AccountKind | None,
        asset_code: str,
        after: int,
        limit: int,
    ) -> list[tuple[Account, int]]:
        """Accounts in creation order after the cursor ``after``, each with its cursor."""

    async def balance(self, account_id: str, as_of: datetime | None = None) -> Balance:
        """Current totals, or totals summed from the entries recorded up to ``as_of``."""

    async def balances(
        self, account_ids: Sequence[str], as_of: datetime | None = None
    ) -> dict[str, tuple[Account, Balance]]:
        """The accounts found and their balances (as ``balance``), all read by one statement,
        so at one instant: a transaction is either wholly in them or not at all."""

    async def history(self, account_id: str, *, after: int, limit: int) -> list[HistoryEntry]:
        """The account's entries after position ``after``, oldest first, each with the
        balance right after it."""

    async def lock(self, account_ids: Sequence[str]) -> dict[str, tuple[Account, Balance]]:
        """Lock the balance rows (in sorted id order, so lockers never deadlock) and read them."""

    async def save_balances(self, balances: Mapping[str, Balance]) -> None:
        """New totals of locked rows; may be written with the next ``add_entries``."""


class Transactions(Protocol):
    async def claim(self, transactions: Sequence[Transaction]) -> list[Transaction | None]:
        """Insert each unless its (org, request id) exists, in one statement; per transaction
        None when inserted, else the one recorded first.

        An implementation may also lock the balance rows of the accounts the transactions
        touch, in the same round trip and in sorted order (claims first, then locks: the
        order ``Accounts.lock`` callers use too); ``lock`` then finds them already locked."""

    async def add_entries(self, entries: Sequence[ChainedEntry]) -> None:
        """Append entries (of any number of transactions) in one statement."""

    async def discard(self, transaction_ids: Sequence[str]) -> None:
        """Remove transactions claimed in this unit of work that were then refused."""

    async def get(self, transaction_id: str, *, lock: bool = False) -> Transaction | None: ...

    async def resolve(
        self, transaction_id: str, state: TransactionState, resolved_by: str
    ) -> None: ...

    async def page_for_account(
        self,
        account_id: str,
        *,
        start: datetime | None,
        end: datetime | None,
        before: int | None,
        limit: int,
    ) -> list[tuple[Transaction, int]]:
        """Transactions touching the account, newest first, before the cursor, with cursors."""

    async def due_holds(self, now: datetime, limit: int) -> list[str]:
        """Ids of open holds whose expiry passed, locked, skipping ones locked elsewhere."""

    async def verify(
        self,
        asset_code: str,
        now: datetime,
        *,
        key: CheckpointKey | None = None,
        known_checkpoint: int = 0,
    ) -> LedgerReport:
        """Check every invariant in one snapshot; with the checkpoint key, against the key's
        checkpoints too, the last of which must be at least ``known_checkpoint``."""


class Checkpoints(Protocol):
    async def take(self, key: CheckpointKey, now: datetime) -> Checkpoint | None:
        """MAC the chain heads that moved since the key's last checkpoint; None if none did."""


class LedgerUnitOfWork(TransactionPort[DomainEvent], Protocol):
    """One database transaction; leaving without ``commit()`` rolls back."""

    @property
    def accounts(self) -> Accounts: ...

    @property
    def transactions(self) -> Transactions: ...

    @property
    def checkpoints(self) -> Checkpoints: ...

    async def act_for(self, org_id: str) -> None:
        """Act for ``org_id`` (row-level security) for the rest of the transaction."""


UnitOfWorkFactory = Callable[[], LedgerUnitOfWork]
