"""Group commit: concurrent CreateTransaction requests share one database transaction.

One posting per transaction pays a commit (an fsync) and a lock round per request; many
per transaction pay them once (TigerBeetle batches for the same reason). Requests stay
independent: one refused (insufficient funds, reused request id) fails alone.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from keel_runtime.errors import CallerRefused
from keel_runtime.tenancy import acting_for
from ledger.app import commands, posting
from ledger.app.access import require_writer
from ledger.app.tenancy import call_scope
from ledger.app.transactions import TransactionHandlers, reused
from ledger.domain import errors
from ledger.domain import events as ev
from ledger.domain.model import Transaction, TransactionKind
from ledger.domain.rules import entries_for

log = logging.getLogger(__name__)

Outcome = Transaction | errors.LedgerError | CallerRefused


@dataclass
class _Request:
    command: commands.CreateTransaction
    future: asyncio.Future[Transaction]
    # The submitter's context (request id, trace): events recorded for it must carry them.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    # Whom the submitter acts for (row-level security): requests share a database
    # transaction only with requests acting for the same.
    scope: str = field(default_factory=call_scope)


async def create_group(handlers: TransactionHandlers, items: Sequence[_Request]) -> list[Outcome]:
    """Record independent transactions in one database transaction; per item its outcome."""
    outcomes: list[Outcome | None] = [None] * len(items)
    now = handlers.clock()
    fresh: dict[int, Transaction] = {}
    for i, item in enumerate(items):
        try:
            require_writer(item.command.caller)
            fresh[i] = handlers.new_transaction(item.command, now)
        except (errors.LedgerError, CallerRefused) as exc:
            outcomes[i] = exc
    # Two requests in one group with the same (scope, request id): the later one follows the
    # first, exactly as if it had arrived after it.
    leader: dict[tuple[str, str], int] = {}
    followers: dict[int, int] = {}
    for i, tx in fresh.items():
        key = (tx.scope, tx.request_id)
        if key in leader:
            followers[i] = leader[key]
        else:
            leader[key] = i
    claimants = sorted(leader.values(), key=lambda i: (fresh[i].scope, fresh[i].request_id))
    async with handlers.uow() as uow:
        firsts = await uow.transactions.claim([fresh[i] for i in claimants])
        new: list[int] = []
        for i, first in zip(claimants, firsts, strict=True):
            if first is None:
                new.append(i)
            elif first.fingerprint != fresh[i].fingerprint:
                outcomes[i] = reused(fresh[i])
            else:
                outcomes[i] = first
        new.sort()
        refusals = await posting.apply_each(
            uow,
            [
                (items[i].command.caller, fresh[i], entries_for(fresh[i].kind, fresh[i].postings))
                for i in new
            ],
            atomic=False,
        )
        refused = [fresh[i].id for i, why in zip(new, refusals, strict=True) if why is not None]
        if refused:
            await uow.transactions.discard(refused)
        for i, why in zip(new, refusals, strict=True):
            tx = fresh[i]
            outcomes[i] = why or tx
            if why is None:
                event = (
                    ev.PendingCreated(tx)
                    if tx.kind is TransactionKind.PENDING
                    else ev.TransactionPosted(tx)
                )
                items[i].context.run(uow.record, event)
        await uow.commit()
    for i, lead in followers.items():
        first_outcome = outcomes[lead]
        if (
            isinstance(first_outcome, Transaction)
            and first_outcome.fingerprint != fresh[i].fingerprint
        ):
            outcomes[i] = reused(fresh[i])
        else:
            outcomes[i] = first_outcome
    assert all(outcome is not None for outcome in outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


class GroupCommitter:
    """Queue of CreateTransaction requests drained by a few workers, one group per commit.

    No timer: a worker takes whatever queued while the previous group was committing, so an
    idle ledger adds no latency and a busy one commits ever larger groups.
    """

    def __init__(
        self, handlers: TransactionHandlers, *, max_group: int = 64, workers: int = 2
    ) -> None:
        self._handlers = handlers
        self._max_group = max_group
        self._workers = workers
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()

    async def create(self, command: commands.CreateTransaction) -> Transaction:
        future: asyncio.Future[Transaction] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(command, future))
        return await future

    async def run(self) -> None:
        """Background task: the workers, until cancelled."""
        # A TaskGroup: one worker crashing stops the others, and the supervisor restarts all.
        async with asyncio.TaskGroup() as group:
            for _ in range(self._workers):
                group.create_task(self._work())

    async def _work(self) -> None:
        group: list[_Request] = []
        try:
            while True:
                group = [await self._queue.get()]
                while len(group) < self._max_group and not self._queue.empty():
                    group.append(self._queue.get_nowait())
                await self._commit(group)
                group = []
        finally:
            for request in group:
                if not request.future.done():
                    request.future.cancel()

    async def _commit(self, group: list[_Request]) -> None:
        live = [r for r in group if not r.future.done()]  # a cancelled caller needs nothing
        # One database transaction per scope: row-level security confines each to the
        # organization its requests act for (or to the platform's, for platform callers),
        # so one tenant's request never shares a transaction that can see another's rows.
        scopes: dict[str, list[_Request]] = {}
        for request in live:
            scopes.setdefault(request.scope, []).append(request)
        for scope, requests in scopes.items():
            with acting_for(scope):
                await self._commit_scope(requests)

    async def _commit_scope(self, live: list[_Request]) -> None:
        try:
            outcomes = await create_group(self._handlers, live)
        except Exception:
            # Something no rule predicted (a driver error, a constraint): run each request
            # alone, so only the request that causes it fails.
            log.warning("group of %d failed; retrying one by one", len(live), exc_info=True)
            await asyncio.gather(*(self._alone(r) for r in live))
            return
        for request, outcome in zip(live, outcomes, strict=True):
            if request.future.done():
                continue
            if isinstance(outcome, Transaction):
                request.future.set_result(outcome)
            else:
                request.future.set_exception(outcome)

    async def _alone(self, request: _Request) -> None:
        try:
            result = await asyncio.create_task(
                self._handlers.create(request.command), context=request.context
            )
        except Exception as exc:
            if not request.future.done():
                request.future.set_exception(exc)
            return
        if not request.future.done():
            request.future.set_result(result)
