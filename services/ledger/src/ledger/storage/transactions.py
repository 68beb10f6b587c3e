"""Transaction repository (SQLAlchemy Core): idempotent claims, immutable entries, holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.audit import LedgerReport
from ledger.domain.chain import ChainedEntry
from ledger.domain.checkpoint import CheckpointKey
from ledger.domain.model import Transaction, TransactionKind, TransactionState
from ledger.storage import audit, rows
from ledger.storage.hot import HotPath
from ledger.storage.tables import entries, transactions


class SqlTransactions:
    def __init__(self, connection: AsyncConnection, hot: HotPath | None = None) -> None:
        self._conn = connection
        # Shared with the unit of work's accounts repository (see ledger.storage.hot).
        self._hot = hot or HotPath(connection)

    async def claim(self, transactions_: Sequence[Transaction]) -> list[Transaction | None]:
        if not transactions_:
            return []
        # The balance rows the transactions' legs touch are locked in the same round trip,
        # right after the claim: the posting that follows finds them locked (a void has no
        # legs of its own; the posting step locks the hold's accounts then). A repeat holds
        # them until it ends, harmlessly.
        inserted = await self._hot.claim_and_lock(
            transactions_, {account_id for t in transactions_ for account_id in t.account_ids}
        )
        taken = [t for t in transactions_ if t.id not in inserted]
        if not taken:
            return [None] * len(transactions_)
        found = (
            (
                await self._conn.execute(
                    select(transactions).where(
                        tuple_(transactions.c.scope, transactions.c.request_id).in_(
                            [(t.scope, t.request_id) for t in taken]
                        )
                    )
                )
            )
            .mappings()
            .all()
        )
        firsts = {(row["scope"], row["request_id"]): rows.transaction(row) for row in found}
        return [
            None if t.id in inserted else firsts[(t.scope, t.request_id)] for t in transactions_
        ]

    async def add_entries(self, entries_: Sequence[ChainedEntry]) -> None:
        # With the balances queued by save_balances, in one statement.
        await self._hot.add_entries(entries_)

    async def discard(self, transaction_ids: Sequence[str]) -> None:
        # The append-only trigger allows this only for rows this database transaction
        # inserted (and has not committed): claims withdrawn, never history.
        await self._conn.execute(delete(transactions).where(transactions.c.id.in_(transaction_ids)))

    async def get(self, transaction_id: str, *, lock: bool = False) -> Transaction | None:
        query = select(transactions).where(transactions.c.id == transaction_id)
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().first()
        return None if row is None else rows.transaction(row)

    async def resolve(self, transaction_id: str, state: TransactionState, resolved_by: str) -> None:
        await self._conn.execute(
            update(transactions)
            .where(transactions.c.id == transaction_id)
            .values(state=state.value, resolved_by_id=resolved_by)
        )

    async def page_for_account(
        self,
        account_id: str,
        *,
        start: datetime | None,
        end: datetime | None,
        before: int | None,
        limit: int,
    ) -> list[tuple[Transaction, int]]:
        touching = select(entries.c.transaction_id).where(entries.c.account_id == account_id)
        query = (
            select(transactions)
            .where(transactions.c.id.in_(touching))
            .order_by(transactions.c.seq.desc())
            .limit(limit)
        )
        if start is not None:
            query = query.where(transactions.c.created_at >= start)
        if end is not None:
            query = query.where(transactions.c.created_at < end)
        if before is not None:
            query = query.where(transactions.c.seq < before)
        result = (await self._conn.execute(query)).mappings().all()
        return [(rows.transaction(row), row["seq"]) for row in result]

    async def due_holds(self, now: datetime, limit: int) -> list[str]:
        query = (
            select(transactions.c.id)
            .where(
                transactions.c.kind == TransactionKind.PENDING.value,
                transactions.c.state == TransactionState.PENDING.value,
                transactions.c.expires_at <= now,
            )
            .order_by(transactions.c.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self._conn.scalars(query)).all())

    async def verify(
        self,
        asset_code: str,
        now: datetime,
        *,
        key: CheckpointKey | None = None,
        known_checkpoint: int = 0,
    ) -> LedgerReport:
        await self._hot.flush()
        return await audit.verify(
            self._conn, asset_code, now, key=key, known_checkpoint=known_checkpoint
        )
