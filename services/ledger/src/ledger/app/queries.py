"""Transaction reads and the ledger audit."""

from __future__ import annotations

from keel_runtime import paging
from keel_runtime.tenancy import PLATFORM, acting_for
from ledger.app import commands
from ledger.app.accounts import Page, visible_account
from ledger.app.checkpoints import Checkpointer
from ledger.app.ports import Clock, UnitOfWorkFactory
from ledger.app.transactions import visible_transaction
from ledger.domain.audit import LedgerReport
from ledger.domain.model import Transaction


class QueryHandlers:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        checkpointer: Checkpointer | None = None,
        *,
        reads: UnitOfWorkFactory | None = None,
    ) -> None:
        self._uow = uow
        # Reads may go through units of work without a transaction of their own (read_only);
        # the audit keeps its transaction: it reads the whole ledger from one snapshot.
        self._reads = reads or uow
        self._clock = clock
        self._checkpointer = checkpointer

    async def get_transaction(self, query: commands.GetTransaction) -> Transaction:
        async with self._reads() as uow:
            return await visible_transaction(uow, query.caller, query.transaction_id)

    async def list_transactions(self, query: commands.ListTransactions) -> Page[Transaction]:
        scope = paging.query_digest("ListTransactions", query.account_id, query.start, query.end)
        before = paging.decode_int(query.page_token, scope)
        size = paging.page_size(query.page_size)
        async with self._reads() as uow:
            await visible_account(uow, query.caller, query.account_id)
            rows = await uow.transactions.page_for_account(
                query.account_id, start=query.start, end=query.end, before=before, limit=size + 1
            )
        token = paging.encode([rows[size - 1][1]], scope) if len(rows) > size else ""
        return Page([tx for tx, _ in rows[:size]], token)

    async def verify(self, query: commands.VerifyLedger) -> LedgerReport:
        # The audit reads the whole ledger: platform work, as the RPC is the platform's only
        # (the transport refuses any other caller).
        with acting_for(PLATFORM):
            return await self._verify(query)

    async def _verify(self, query: commands.VerifyLedger) -> LedgerReport:
        if self._checkpointer is None:
            async with self._uow() as uow:
                return await uow.transactions.verify(query.asset_code, self._clock())
        # Read before the snapshot opens: that checkpoint committed, so the snapshot has it.
        known = self._checkpointer.last_sequence
        async with self._uow() as uow:
            return await uow.transactions.verify(
                query.asset_code, self._clock(), key=self._checkpointer.key, known_checkpoint=known
            )
