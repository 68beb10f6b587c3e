"""Group commit: concurrent CreateTransaction requests share one database transaction.

One posting per transaction pays a commit (an fsync) and a lock round per request; many
per transaction pay them once (TigerBeetle batches for the same reason). Requests stay
independent: one refused (insufficient funds, reused request id) fails alone. This module
is the queue; a group is recorded by ``TransactionHandlers.create_group``, the one path every
CreateTransaction takes (a create outside the queue is a group of one).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass, field

from keel_runtime.tenancy import acting_for
from ledger.app import commands
from ledger.app.tenancy import call_scope
from ledger.app.transactions import Submission, TransactionHandlers
from ledger.domain.model import Transaction

log = logging.getLogger(__name__)


@dataclass
class _Request:
    submission: Submission
    future: asyncio.Future[Transaction]
    # Whom the submitter acts for (row-level security): requests share a database
    # transaction only with requests acting for the same.
    scope: str = field(default_factory=call_scope)


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
        # The caller's context goes with the request: a worker records it.
        submission = Submission(command, contextvars.copy_context())
        self._queue.put_nowait(_Request(submission, future))
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
            outcomes = await self._handlers.create_group([r.submission for r in live])
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
        outcome: Transaction | Exception
        try:
            (outcome,) = await asyncio.create_task(
                self._handlers.create_group([request.submission]),
                context=request.submission.context,
            )
        except Exception as exc:
            outcome = exc
        if request.future.done():
            return
        if isinstance(outcome, Transaction):
            request.future.set_result(outcome)
        else:
            request.future.set_exception(outcome)
