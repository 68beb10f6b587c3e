"""Per-account hash chain of entries: rewriting history anywhere breaks every later link."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.domain.model import Entry


@dataclass(frozen=True)
class ChainedEntry:
    """An entry with its place in its account's chain: the n-th entry (from 1) and its hash."""

    transaction_id: str
    entry: Entry
    created_at: datetime
    account_seq: int
    hash: bytes


def link(
    prev_hash: bytes, account_seq: int, transaction_id: str, entry: Entry, created_at: datetime
) -> bytes:
    """sha256 over the previous link and every field of the entry, in a fixed encoding."""
    micros = (created_at - datetime(1970, 1, 1, tzinfo=UTC)) // _MICROSECOND
    fields = (
        entry.account_id,
        str(account_seq),
        transaction_id,
        entry.asset_code,
        entry.side.value,
        entry.bucket.value,
        str(entry.amount),
        str(micros),
    )
    return hashlib.sha256(prev_hash + "|".join(fields).encode()).digest()


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
