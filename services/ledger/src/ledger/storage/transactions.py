"""Transaction repository (SQLAlchemy Core): idempotent claims, immutable entries, holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.audit import LedgerReport
from ledger.domain.chain import ChainedEntry
from ledger.domain.model import Transaction, TransactionKind, TransactionState
from ledger.storage import audit, rows
from ledger.storage.tables import entries, transactions


class SqlTransactions:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def claim(self, transactions_: Sequence[Transaction]) -> list[Transaction | None]:
        # A concurrent claim of the same request id waits here on the unique index until
        # the first commits (then sees it) or rolls back (then inserts).
        inserted = set(
            (
                await self._conn.scalars(
                    pg_insert(transactions)
                    .values([rows.transaction_values(t) for t in transactions_])
                    .on_conflict_do_nothing(index_elements=["org_id", "request_id"])
                    .returning(transactions.c.id)
                )
            ).all()
        )
        taken = [t for t in transactions_ if t.id not in inserted]
        if not taken:
            return [None] * len(transactions_)
        found = (
            (
                await self._conn.execute(
                    select(transactions).where(
                        tuple_(transactions.c.org_id, transactions.c.request_id).in_(
                            [(t.org_id, t.request_id) for t in taken]
                        )
                    )
                )
            )
            .mappings()
            .all()
        )
        firsts = {(row["org_id"], row["request_id"]): rows.transaction(row) for row in found}
        return [
            None if t.id in inserted else firsts[(t.org_id, t.request_id)] for t in transactions_
        ]

    async def add_entries(self, entries_: Sequence[ChainedEntry]) -> None:
        values = [
            {
                "transaction_id": c.transaction_id,
                "account_id": c.entry.account_id,
                "account_seq": c.account_seq,
                "asset_code": c.entry.asset_code,
                "side": c.entry.side.value,
                "bucket": c.entry.bucket.value,
                "amount": c.entry.amount,
                "created_at": c.created_at,
                "hash": c.hash,
            }
            for c in entries_
        ]
        if values:
            # insertmanyvalues: one multi-row INSERT for the whole batch.
            await self._conn.execute(insert(entries), values)

    async def discard(self, transaction_ids: Sequence[str]) -> None:
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

    async def verify(self, asset_code: str, now: datetime) -> LedgerReport:
        return await audit.verify(self._conn, asset_code, now)
