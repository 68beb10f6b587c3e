"""Ports the application layer needs; storage implements them, unit tests fake them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
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

    async def asset_scale(self, code: str) -> int | None:
        """The scale the ledger knows the code by; None for a code it has not registered."""

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


Locked = Mapping[str, tuple[Account, Balance]]
"""Balance rows this unit of work holds locked, by account id, each with its account: only
this unit of work can change them until it ends."""


@dataclass(frozen=True)
class Claim:
    """What ``Postings.claim`` found: per transaction None if it was inserted now, else the
    one recorded first with its request id; and the balance rows it locked."""

    firsts: list[Transaction | None]
    locked: Locked


class Postings(Protocol):
    """The write path: every write that moves money goes through these three operations.

    A unit of work claims its transactions and locks the balance rows they touch (one round
    trip), checks and applies the postings to the locked balances it was handed, then
    writes the new balances with the entries that explain them (one more); a transaction
    refused on the way is discarded (``ledger.app.recording`` is the one routine doing this).
    """

    async def claim(self, transactions: Sequence[Transaction], *, lock: Iterable[str]) -> Claim:
        """Insert each transaction unless its (scope, request id) exists, then lock the
        balance rows of the accounts ``lock`` names that exist and are visible, in sorted id
        order (every writer takes them so, after its claims: none can deadlock)."""

    async def write(self, balances: Mapping[str, Balance], entries: Sequence[ChainedEntry]) -> None:
        """New totals of locked balance rows and the entries (of any number of
        transactions) that explain them, together."""

    async def discard(self, transaction_ids: Sequence[str]) -> None:
        """Remove transactions claimed in this unit of work that were then refused."""


class Transactions(Protocol):
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
    def postings(self) -> Postings: ...

    @property
    def checkpoints(self) -> Checkpoints: ...

    async def act_for(self, org_id: str) -> None:
        """Act for ``org_id`` (row-level security) for the rest of the transaction."""


UnitOfWorkFactory = Callable[[], LedgerUnitOfWork]
