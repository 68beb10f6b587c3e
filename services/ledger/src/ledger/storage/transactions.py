"""Transaction repository (SQLAlchemy Core): reads, hold resolution, the audit.

Claims and entries are written by the write path (``ledger.storage.hot``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.domain.audit import LedgerReport
from ledger.domain.checkpoint import CheckpointKey
from ledger.domain.model import Transaction, TransactionKind, TransactionState
from ledger.storage import audit, rows
from ledger.storage.tables import entries, transactions


class SqlTransactions:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

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
        return await audit.verify(
            self._conn, asset_code, now, key=key, known_checkpoint=known_checkpoint
        )
