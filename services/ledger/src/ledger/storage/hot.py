"""The write path (``SqlPostings``, the ledger's ``Postings`` port) on the unit of work's
psycopg connection: fewer round trips, no compiling.

A posting used to cost seven round trips (BEGIN, claim, lock, balances, entries, outbox,
COMMIT) and about as much Python building SQLAlchemy statements as waiting on PostgreSQL.
Here the claim and the balance locks are one statement, and so are the balance update and
the entries: five round trips with BEGIN, the outbox and COMMIT. The statements are fixed
texts taking their rows as one JSON array, so any batch size is the same statement and
psycopg prepares it once per connection. They run on the same connection and transaction
as the SQLAlchemy ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from keel_runtime.tenancy import driver_connection
from ledger.app.ports import Claim
from ledger.domain.chain import ChainedEntry
from ledger.domain.model import Account, AccountKind, Asset, Balance, BalanceBound, Transaction
from ledger.storage import rows
from ledger.storage.rows import postings_json
from ledger.storage.tables import transactions

# The claim and the balance locks in one statement, in that order (the order every writer
# takes them in): the aggregate over `claimed` consumes the whole INSERT before the LATERAL
# side runs. ON CONFLICT DO NOTHING: a concurrent claim of the same request id waits on the
# unique index until the first commits (then this one sees it) or rolls back (then this one
# inserts). jsonb_to_recordset keeps the given order, so claims are taken in the caller's order.
# ORDER BY sits below the row locking, so PostgreSQL locks the balance rows in id order:
# every writer locks in the same order and none can deadlock on them. The account and its
# asset come with the locked balance (only the balance row is locked: FOR UPDATE OF b).
# One row at least (LEFT JOIN ... ON true): the claimed ids ride on every row. The LATERAL
# reference to `c` is what forces the order: without it the planner could run the locking
# side first (as the build side of a hash join, say).
# The locked rows are reached from the ids (unnest, then primary keys), not by filtering
# balances with `= ANY(ids)`: psycopg prepares the statement, PostgreSQL soon plans it
# generically (ids unknown), and the generic plan of `= ANY` scanned every account, then
# probed balances once per account (row-level security's filters made the probe dearer):
# a posting cost O(accounts). Driven from the ids, the plan is index lookups whatever it knows.
_CLAIM_AND_LOCK = """
WITH claimed AS (
    INSERT INTO transactions (id, org_id, request_id, scope, fingerprint, kind, state,
                              postings, metadata, pending_id, reversed_id, resolved_by_id,
                              created_at, expires_at)
    SELECT * FROM jsonb_to_recordset(%b::jsonb) AS t(
        id uuid, org_id uuid, request_id text, scope text, fingerprint text, kind text,
        state text, postings jsonb, metadata jsonb, pending_id uuid, reversed_id uuid,
        resolved_by_id uuid, created_at timestamptz, expires_at timestamptz)
    ON CONFLICT (scope, request_id) DO NOTHING
    RETURNING id
)
SELECT c.ids, l.*
FROM (SELECT coalesce(array_agg(id::text), '{}') AS ids FROM claimed) AS c
LEFT JOIN LATERAL (
    SELECT b.account_id::text, b.debits_posted, b.credits_posted, b.debits_pending,
           b.credits_pending, b.entry_count, b.head_hash,
           a.org_id::text, a.kind, a.asset_code, s.scale, a.bound, a.overdraft_limit,
           a.metadata, a.created_at
    FROM unnest(%b::uuid[]) AS wanted(id)
    JOIN balances AS b ON b.account_id = wanted.id
    JOIN accounts AS a ON a.id = b.account_id
    JOIN assets AS s ON s.code = a.asset_code
    WHERE c.ids IS NOT NULL
    ORDER BY b.account_id
    FOR UPDATE OF b
) AS l ON true
"""

_UPDATE_BALANCES = """
UPDATE balances AS b
SET debits_posted = v.debits_posted, credits_posted = v.credits_posted,
    debits_pending = v.debits_pending, credits_pending = v.credits_pending,
    entry_count = v.entry_count, head_hash = decode(v.head_hash, 'hex')
FROM jsonb_to_recordset(%b::jsonb) AS v(
    account_id uuid, debits_posted bigint, credits_posted bigint, debits_pending bigint,
    credits_pending bigint, entry_count bigint, head_hash text)
WHERE b.account_id = v.account_id
"""

_INSERT_ENTRIES = """
INSERT INTO entries (transaction_id, account_id, account_seq, asset_code, side, bucket, amount,
                     created_at, hash)
SELECT transaction_id, account_id, account_seq, asset_code, side, bucket, amount, created_at,
       decode(hash, 'hex')
FROM jsonb_to_recordset(%b::jsonb) AS e(
    transaction_id uuid, account_id uuid, account_seq bigint, asset_code text, side text,
    bucket text, amount bigint, created_at timestamptz, hash text)
"""

# A data-modifying WITH runs exactly once whether or not the INSERT reads it: the new
# balances and the entries that explain them are written by one statement.
_UPDATE_BALANCES_AND_INSERT_ENTRIES = f"WITH moved AS ({_UPDATE_BALANCES}){_INSERT_ENTRIES}"

# Rows go to PostgreSQL as one JSON array per statement (jsonb_to_recordset, which keeps the
# array's order): one C-speed json.dumps instead of adapting an array per column. JSON has no
# timestamps or bytes, hence ISO 8601 (microseconds kept: the hash chain covers them) and hex.


def _claim_rows(transactions: Sequence[Transaction]) -> Jsonb:
    return Jsonb(
        [
            {
                "id": t.id,
                "org_id": t.org_id,
                "request_id": t.request_id,
                "scope": t.scope,
                "fingerprint": t.fingerprint,
                "kind": t.kind.value,
                "state": t.state.value,
                "postings": postings_json(t.postings),
                "metadata": dict(t.metadata),
                "pending_id": t.pending_id,
                "reversed_id": t.reversed_id,
                "resolved_by_id": t.resolved_by_id,
                "created_at": t.created_at.isoformat(),
                "expires_at": t.expires_at.isoformat() if t.expires_at else None,
            }
            for t in transactions
        ]
    )


def _balance_rows(balances: Mapping[str, Balance]) -> Jsonb:
    return Jsonb(
        [
            {
                "account_id": account_id,
                "debits_posted": b.debits_posted,
                "credits_posted": b.credits_posted,
                "debits_pending": b.debits_pending,
                "credits_pending": b.credits_pending,
                "entry_count": b.entry_count,
                "head_hash": b.head_hash.hex(),
            }
            for account_id, b in balances.items()
        ]
    )


def _entry_rows(entries: Sequence[ChainedEntry]) -> Jsonb:
    return Jsonb(
        [
            {
                "transaction_id": c.transaction_id,
                "account_id": c.entry.account_id,
                "account_seq": c.account_seq,
                "asset_code": c.entry.asset_code,
                "side": c.entry.side.value,
                "bucket": c.entry.bucket.value,
                "amount": c.entry.amount,
                "created_at": c.created_at.isoformat(),
                "hash": c.hash.hex(),
            }
            for c in entries
        ]
    )


def _locked_row(row: tuple[Any, ...]) -> tuple[str, tuple[Account, Balance]]:
    (
        account_id,
        debits_posted,
        credits_posted,
        debits_pending,
        credits_pending,
        entry_count,
        head_hash,
        org_id,
        kind,
        asset_code,
        scale,
        bound,
        overdraft_limit,
        metadata,
        created_at,
    ) = row
    account = Account(
        id=account_id,
        org_id=org_id,
        kind=AccountKind(kind),
        asset=Asset(asset_code, scale),
        bound=BalanceBound(bound),
        overdraft_limit=overdraft_limit,
        metadata=dict(metadata),
        created_at=created_at,
    )
    balance = Balance(
        debits_posted=debits_posted,
        credits_posted=credits_posted,
        debits_pending=debits_pending,
        credits_pending=credits_pending,
        entry_count=entry_count,
        head_hash=bytes(head_hash),
    )
    return account_id, (account, balance)


class SqlPostings:
    """The write path (``ledger.app.ports.Postings``) on the unit of work's connection.

    Nothing is remembered between calls: the claim hands back the rows it locked, and the
    new balances arrive with the entries that explain them.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._driver: psycopg.AsyncConnection[Any] | None = None

    async def _psycopg(self) -> psycopg.AsyncConnection[Any]:
        """The psycopg connection under the unit of work's SQLAlchemy one (same transaction)."""
        if self._driver is None:
            self._driver = await driver_connection(self._connection)
        return self._driver

    async def claim(self, transactions_: Sequence[Transaction], *, lock: Iterable[str]) -> Claim:
        ids = sorted(set(lock))
        if not transactions_ and not ids:
            return Claim([], {})
        driver = await self._psycopg()
        cursor = await driver.execute(_CLAIM_AND_LOCK, (_claim_rows(transactions_), ids))
        found = await cursor.fetchall()
        inserted = set(found[0][0])
        locked = dict(_locked_row(row[1:]) for row in found if row[1] is not None)
        return Claim(await self._firsts(transactions_, inserted), locked)

    async def _firsts(
        self, transactions_: Sequence[Transaction], inserted: set[str]
    ) -> list[Transaction | None]:
        """Per transaction None if inserted, else the one its request id recorded first."""
        taken = [t for t in transactions_ if t.id not in inserted]
        if not taken:
            return [None] * len(transactions_)
        query = select(transactions).where(
            tuple_(transactions.c.scope, transactions.c.request_id).in_(
                [(t.scope, t.request_id) for t in taken]
            )
        )
        found = (await self._connection.execute(query)).mappings().all()
        firsts = {(row["scope"], row["request_id"]): rows.transaction(row) for row in found}
        return [
            None if t.id in inserted else firsts[(t.scope, t.request_id)] for t in transactions_
        ]

    async def write(self, balances: Mapping[str, Balance], entries: Sequence[ChainedEntry]) -> None:
        driver = await self._psycopg()
        if balances and entries:
            await driver.execute(
                _UPDATE_BALANCES_AND_INSERT_ENTRIES,
                (_balance_rows(balances), _entry_rows(entries)),
            )
        elif entries:
            await driver.execute(_INSERT_ENTRIES, (_entry_rows(entries),))
        elif balances:
            await driver.execute(_UPDATE_BALANCES, (_balance_rows(balances),))

    async def discard(self, transaction_ids: Sequence[str]) -> None:
        # The append-only trigger allows this only for rows this database transaction
        # inserted (and has not committed): claims withdrawn, never history.
        await self._connection.execute(
            delete(transactions).where(transactions.c.id.in_(transaction_ids))
        )
