"""VerifyLedger's check of transaction rows against the chained entries that carry them.

The entries are hash-chained (and the chain heads checkpointed under a key), the
transaction rows are not: a row rewritten with the append-only trigger disabled (postings,
kind, state, resolution) must therefore contradict its entries or its resolvers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.audit import Violation
from ledger.domain.history import entries_match, expected_resolution
from ledger.domain.model import Bucket, Entry, Posting, Side, TransactionKind, TransactionState

# One pass over the transactions; entries and resolvers grouped once (hash joins, not a
# subquery per row). A resolver names its hold (pending_id) or what it reverses (reversed_id).
_TRANSACTIONS = """
SELECT t.id::text, t.kind, t.state, t.postings, t.resolved_by_id::text,
       h.postings AS hold_postings,
       coalesce(e.moved, '[]'::jsonb) AS moved,
       coalesce(r.resolvers, '[]'::jsonb) AS resolvers
FROM transactions t
LEFT JOIN transactions h ON h.id = t.pending_id
LEFT JOIN (
    SELECT transaction_id,
           jsonb_agg(jsonb_build_array(account_id, asset_code, side, bucket, amount)) AS moved
    FROM entries GROUP BY transaction_id
) e ON e.transaction_id = t.id
LEFT JOIN (
    SELECT coalesce(pending_id, reversed_id) AS target,
           jsonb_agg(jsonb_build_array(id, kind)) AS resolvers
    FROM transactions WHERE pending_id IS NOT NULL OR reversed_id IS NOT NULL
    GROUP BY 1
) r ON r.target = t.id
ORDER BY t.seq
"""


def _postings(rows: Any) -> tuple[Posting, ...]:
    return tuple(
        Posting(p["account_id"], Side(p["side"]), int(p["amount"]), p["asset"]) for p in rows or ()
    )


def _assets(row: Any) -> set[str]:
    return {p["asset"] for p in row.postings or ()} | {m[1] for m in row.moved}


def _check(row: Any) -> list[tuple[str, str]]:
    """(code, detail) of what is wrong with one transaction row."""
    found: list[tuple[str, str]] = []
    try:
        kind = TransactionKind(row.kind)
        moved = [
            Entry(str(a), asset, Side(side), Bucket(bucket), int(amount))
            for a, asset, side, bucket, amount in row.moved
        ]
        if not entries_match(kind, _postings(row.postings), _postings(row.hold_postings), moved):
            found.append(("TRANSACTION_ENTRIES_MISMATCH", "its postings are not its entries"))
        resolvers = [(str(i), TransactionKind(k)) for i, k in row.resolvers]
    except (KeyError, TypeError, ValueError):
        return [("TRANSACTION_ENTRIES_MISMATCH", "its row does not parse")]
    expected = expected_resolution(kind, resolvers)
    if expected is None or expected != (TransactionState(row.state), row.resolved_by_id):
        found.append(
            (
                "TRANSACTION_STATE_INCONSISTENT",
                f"{row.state} contradicts its resolving transactions",
            )
        )
    return found


async def check_transactions(conn: AsyncConnection, asset_code: str) -> list[Violation]:
    found: list[Violation] = []
    result = await conn.stream(text(_TRANSACTIONS))
    async for row in result:
        assets = _assets(row)
        if asset_code and asset_code not in assets:
            continue
        for code, detail in _check(row):
            found.append(
                Violation(
                    code,
                    asset_code or ",".join(sorted(assets)),
                    "",
                    f"transaction {row.id}: {detail}",
                )
            )
    return found
