"""Row <-> domain conversions for the ledger tables."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import RowMapping

from ledger.domain.model import (
    Account,
    AccountKind,
    Asset,
    Balance,
    BalanceBound,
    Bucket,
    Entry,
    HistoryEntry,
    Posting,
    Side,
    Transaction,
    TransactionKind,
    TransactionState,
)


def account(row: RowMapping, scale: int) -> Account:
    return Account(
        id=row["id"],
        org_id=row["org_id"],
        kind=AccountKind(row["kind"]),
        asset=Asset(row["asset_code"], scale),
        bound=BalanceBound(row["bound"]),
        overdraft_limit=row["overdraft_limit"],
        metadata=dict(row["metadata"]),
        created_at=row["created_at"],
    )


def balance(row: RowMapping) -> Balance:
    return Balance(
        debits_posted=row["debits_posted"],
        credits_posted=row["credits_posted"],
        debits_pending=row["debits_pending"],
        credits_pending=row["credits_pending"],
        entry_count=row.get("entry_count", 0),
        head_hash=bytes(row.get("head_hash") or b""),
    )


def history_entry(row: RowMapping) -> HistoryEntry:
    """An entry with the running totals (named as the balance columns) after it."""
    return HistoryEntry(
        sequence=row["account_seq"],
        transaction_id=row["transaction_id"],
        entry=Entry(
            row["account_id"],
            row["asset_code"],
            Side(row["side"]),
            Bucket(row["bucket"]),
            row["amount"],
        ),
        created_at=row["created_at"],
        balance=replace(balance(row), entry_count=row["account_seq"]),
    )


def postings_json(postings: tuple[Posting, ...]) -> list[dict[str, Any]]:
    return [
        {
            "account_id": p.account_id,
            "side": p.side.value,
            "amount": p.amount,
            "asset": p.asset_code,
        }
        for p in postings
    ]


def transaction(row: RowMapping) -> Transaction:
    return Transaction(
        id=row["id"],
        org_id=row["org_id"],
        request_id=row["request_id"],
        kind=TransactionKind(row["kind"]),
        state=TransactionState(row["state"]),
        postings=tuple(
            Posting(p["account_id"], Side(p["side"]), int(p["amount"]), p["asset"])
            for p in row["postings"]
        ),
        metadata=dict(row["metadata"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        pending_id=row["pending_id"],
        reversed_id=row["reversed_id"],
        resolved_by_id=row["resolved_by_id"],
        fingerprint=row["fingerprint"],
        scope=row["scope"],
    )
