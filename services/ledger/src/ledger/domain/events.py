"""Domain events the ledger records; they leave through the outbox after commit."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.domain.checkpoint import Checkpoint
from ledger.domain.model import Account, Transaction


@dataclass(frozen=True)
class AccountOpened:
    account: Account


@dataclass(frozen=True)
class TransactionPosted:
    transaction: Transaction


@dataclass(frozen=True)
class PendingCreated:
    transaction: Transaction


@dataclass(frozen=True)
class PendingPosted:
    pending: Transaction
    transaction: Transaction


@dataclass(frozen=True)
class PendingVoided:
    pending: Transaction
    transaction: Transaction


@dataclass(frozen=True)
class PendingExpired:
    pending: Transaction
    transaction: Transaction


@dataclass(frozen=True)
class TransactionReversed:
    reversed: Transaction
    transaction: Transaction


@dataclass(frozen=True)
class CheckpointRecorded:
    checkpoint: Checkpoint


DomainEvent = (
    AccountOpened
    | TransactionPosted
    | PendingCreated
    | PendingPosted
    | PendingVoided
    | PendingExpired
    | TransactionReversed
    | CheckpointRecorded
)
