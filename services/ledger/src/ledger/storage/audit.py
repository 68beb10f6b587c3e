"""Invariant checks over the whole ledger, run in one repeatable-read snapshot."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.audit import LedgerReport, Violation
from ledger.domain.chain import link
from ledger.domain.checkpoint import CheckpointKey, Vouched, vouched_heads
from ledger.domain.model import Bucket, Entry, Side
from ledger.storage.audit_history import check_transactions
from ledger.storage.checkpoints import SqlCheckpoints

_SIGNED = "CASE e.side WHEN 'DEBIT' THEN e.amount ELSE -e.amount END"
_ASSET = "(CAST(:asset AS text) = '' OR {col} = :asset)"

# Each check returns (code, asset_code, account_id, detail) rows for what it finds broken.
_CHECKS = (
    # Per asset and bucket, debits equal credits across the whole ledger.
    f"""
    SELECT 'UNBALANCED_ASSET', e.asset_code, '', e.bucket || ' entries net ' || SUM({_SIGNED})
    FROM entries e WHERE {_ASSET.format(col="e.asset_code")}
    GROUP BY e.asset_code, e.bucket HAVING SUM({_SIGNED}) <> 0
    """,
    # Every transaction balances on its own.
    f"""
    SELECT 'UNBALANCED_TRANSACTION', e.asset_code, '',
           'transaction ' || e.transaction_id || ' ' || e.bucket || ' nets ' || SUM({_SIGNED})
    FROM entries e WHERE {_ASSET.format(col="e.asset_code")}
    GROUP BY e.transaction_id, e.asset_code, e.bucket HAVING SUM({_SIGNED}) <> 0
    """,
    # Every balance row equals the sum of its account's entries.
    f"""
    SELECT 'BALANCE_MISMATCH', a.asset_code, CAST(a.id AS text),
           format('row %s/%s/%s/%s, entries %s/%s/%s/%s',
                  b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending,
                  s.dp, s.cp, s.dh, s.ch)
    FROM accounts a JOIN balances b ON b.account_id = a.id
    LEFT JOIN LATERAL (
        SELECT COALESCE(SUM(e.amount) FILTER (WHERE side = 'DEBIT' AND bucket = 'POSTED'), 0) dp,
               COALESCE(SUM(e.amount) FILTER (WHERE side = 'CREDIT' AND bucket = 'POSTED'), 0) cp,
               COALESCE(SUM(e.amount) FILTER (WHERE side = 'DEBIT' AND bucket = 'PENDING'), 0) dh,
               COALESCE(SUM(e.amount) FILTER (WHERE side = 'CREDIT' AND bucket = 'PENDING'), 0) ch
        FROM entries e WHERE e.account_id = a.id
    ) s ON true
    WHERE {_ASSET.format(col="a.asset_code")}
      AND (b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending)
          IS DISTINCT FROM (s.dp, s.cp, s.dh, s.ch)
    """,
    # Every bound holds.
    f"""
    SELECT 'BOUND_VIOLATED', a.asset_code, CAST(a.id AS text), a.bound
    FROM accounts a JOIN balances b ON b.account_id = a.id
    WHERE {_ASSET.format(col="a.asset_code")} AND (
        (a.bound = 'DEBITS_MUST_NOT_EXCEED_CREDITS'
         AND b.debits_posted + b.debits_pending > b.credits_posted + a.overdraft_limit)
     OR (a.bound = 'CREDITS_MUST_NOT_EXCEED_DEBITS'
         AND b.credits_posted + b.credits_pending > b.debits_posted))
    """,
    # A resolved hold left nothing pending; an open hold is still fully held.
    f"""
    SELECT 'HOLD_INCONSISTENT', e.asset_code, '', 'hold ' || t.id || ' is ' || t.state
    FROM transactions t
    JOIN transactions r ON r.pending_id = t.id OR r.id = t.id
    JOIN entries e ON e.transaction_id = r.id AND e.bucket = 'PENDING'
    WHERE t.kind = 'PENDING' AND {_ASSET.format(col="e.asset_code")}
    GROUP BY t.id, t.state, e.asset_code
    HAVING (t.state <> 'PENDING' AND SUM(e.amount) <> 0)
        OR (t.state = 'PENDING' AND SUM(e.amount) FILTER (WHERE e.amount < 0) IS NOT NULL)
    """,
)


_CHAIN_ENTRIES = f"""
    SELECT e.account_id, e.account_seq, e.transaction_id, e.asset_code, e.side, e.bucket,
           e.amount, e.created_at, e.hash
    FROM entries e WHERE {_ASSET.format(col="e.asset_code")}
    ORDER BY e.account_id, e.account_seq
"""
_CHAIN_HEADS = f"""
    SELECT a.id, a.asset_code, b.entry_count, b.head_hash
    FROM accounts a JOIN balances b ON b.account_id = a.id
    WHERE {_ASSET.format(col="a.asset_code")}
"""


async def _check_chains(
    conn: AsyncConnection, params: dict[str, str], vouched: Vouched
) -> list[Violation]:
    """Recompute every account's entry hash chain and compare it with the stored links, and
    with the heads the checkpoints vouch for (a chain recomputed from scratch by someone who
    rewrote history matches its own links, not a MAC made with a key they lack)."""
    found: list[Violation] = []
    ends: dict[str, tuple[int, bytes]] = {}
    result = await conn.stream(text(_CHAIN_ENTRIES), params)
    async for row in result:
        account_id = str(row.account_id)
        count, prev = ends.get(account_id, (0, b""))
        entry = Entry(account_id, row.asset_code, Side(row.side), Bucket(row.bucket), row.amount)
        digest = link(prev, count + 1, str(row.transaction_id), entry, row.created_at)
        if vouched.get(account_id, {}).get(row.account_seq, digest) != digest:
            found.append(
                Violation(
                    "CHECKPOINT_MISMATCH",
                    row.asset_code,
                    account_id,
                    f"entry {row.account_seq} is not the one a checkpoint vouched for",
                )
            )
        if row.account_seq != count + 1 or bytes(row.hash) != digest:
            found.append(
                Violation(
                    "CHAIN_BROKEN",
                    row.asset_code,
                    account_id,
                    f"entry {row.account_seq} does not follow entry {count}",
                )
            )
            digest = bytes(row.hash)  # report each break once, not every later link
        ends[account_id] = (row.account_seq, digest)
    seen: set[str] = set()
    for account_id, asset_code, entry_count, head_hash in (
        await conn.execute(text(_CHAIN_HEADS), params)
    ).all():
        seen.add(str(account_id))
        if max(vouched.get(str(account_id), {0: b""})) > ends.get(str(account_id), (0, b""))[0]:
            found.append(
                Violation(
                    "CHECKPOINT_MISMATCH",
                    asset_code,
                    str(account_id),
                    "entries a checkpoint vouched for are gone",
                )
            )
        if ends.get(str(account_id), (0, b"")) != (entry_count, bytes(head_hash)):
            found.append(
                Violation(
                    "CHAIN_HEAD_MISMATCH",
                    asset_code,
                    str(account_id),
                    "the balance row's chain end is not the last entry",
                )
            )
    if not params["asset"]:
        found += [
            Violation("CHECKPOINT_MISMATCH", "", account_id, "a checkpointed account is gone")
            for account_id in sorted(set(vouched) - seen)
        ]
    return found


async def verify(
    conn: AsyncConnection,
    asset_code: str,
    now: datetime,
    *,
    key: CheckpointKey | None = None,
    known_checkpoint: int = 0,
) -> LedgerReport:
    """Check every invariant; must be the first statement of its transaction (snapshot).

    With the checkpoint ``key``, the chains are also held to the key's checkpoints, the last
    of which must be at least ``known_checkpoint``."""
    await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
    params = {"asset": asset_code}
    violations: list[Violation] = []
    vouched: Vouched = {}
    if key is not None:
        taken = await SqlCheckpoints(conn).load(key.key_id)
        violations, vouched = vouched_heads(key, taken, known_checkpoint)
    violations += [
        Violation(code=row[0], asset_code=row[1], account_id=row[2], detail=row[3] or "")
        for check in _CHECKS
        for row in (await conn.execute(text(check), params)).all()
    ]
    violations += await _check_chains(conn, params, vouched)
    violations += await check_transactions(conn, asset_code)
    accounts_checked = await conn.scalar(
        text(f"SELECT count(*) FROM accounts a WHERE {_ASSET.format(col='a.asset_code')}"), params
    )
    entries_checked = await conn.scalar(
        text(f"SELECT count(*) FROM entries e WHERE {_ASSET.format(col='e.asset_code')}"), params
    )
    return LedgerReport(
        violations=tuple(violations),
        accounts_checked=int(accounts_checked or 0),
        entries_checked=int(entries_checked or 0),
        checked_at=now,
    )
