"""Transaction handlers: create (single and batch), post and void holds, reverse, expire."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused
from keel_runtime.idempotency import fingerprint, replay
from keel_runtime.ids import new_id
from keel_runtime.tenancy import PLATFORM, acting_for
from ledger.app import commands
from ledger.app.access import idempotency_scope, require_reader, require_writer, sees
from ledger.app.ports import Clock, LedgerUnitOfWork, UnitOfWorkFactory
from ledger.app.recording import Recording, record_postings
from ledger.app.tenancy import maker_scope
from ledger.domain import errors
from ledger.domain import events as ev
from ledger.domain.model import (
    Entry,
    Posting,
    Transaction,
    TransactionKind,
    TransactionState,
)
from ledger.domain.rules import (
    check_balanced,
    entries_for,
    partial_postings,
    reversal_postings,
)

# A hold resolution (post, void) answers with the resolving transaction and the hold.
Resolution = tuple[Transaction, Transaction]

# Holds one pass of the expiry sweeper releases at most.
EXPIRY_BATCH = 100


def _legs(postings: tuple[Posting, ...]) -> list[list[Any]]:
    return [[p.account_id, p.side, p.amount, p.asset_code] for p in postings]


def reused(transaction: Transaction, first: Transaction | None = None) -> errors.RequestIdReused:
    """The refusal of ``transaction``'s request id, first used (by ``first``) with another
    payload."""
    return errors.RequestIdReused(
        f"request_id {transaction.request_id!r} was used with a different payload",
        request_id=transaction.request_id,
    )


def _repeat(first: Transaction, transaction: Transaction) -> Transaction | errors.RequestIdReused:
    """What a repeat of ``first``'s request id gets: ``first``, or the refusal of a payload
    other than the first's."""
    try:
        return replay(
            first, first.fingerprint, transaction.fingerprint, partial(reused, transaction)
        )
    except errors.RequestIdReused as refused:
        return refused


def _created(transaction: Transaction) -> ev.DomainEvent:
    if transaction.kind is TransactionKind.PENDING:
        return ev.PendingCreated(transaction)
    return ev.TransactionPosted(transaction)


Outcome = Transaction | errors.LedgerError | CallerRefused


@dataclass(frozen=True)
class Submission:
    """A CreateTransaction request and, when it is recorded elsewhere (by the group
    committer), the context it arrived in: its events carry the request id and trace found
    there. None: the current context is the request's."""

    command: commands.CreateTransaction
    context: contextvars.Context | None = None


class TransactionHandlers:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def new_transaction(self, command: commands.CreateTransaction, now: datetime) -> Transaction:
        """The transaction a create command asks for (validated, not yet recorded)."""
        check_balanced(command.postings)
        expires_at = command.expire_at
        if command.pending and command.ttl is not None:
            expires_at = now + command.ttl
        if expires_at is not None and (not command.pending or expires_at <= now):
            raise errors.InvalidExpiry("an expiry must be in the future and needs `pending`")
        return Transaction(
            id=new_id(),
            org_id=command.caller.org_id,
            request_id=command.request_id,
            scope=idempotency_scope(command.caller),
            kind=TransactionKind.PENDING if command.pending else TransactionKind.STANDARD,
            state=TransactionState.PENDING if command.pending else TransactionState.POSTED,
            postings=command.postings,
            metadata=dict(command.metadata),
            created_at=now,
            expires_at=expires_at,
            fingerprint=fingerprint(
                {
                    "op": "create",
                    "legs": _legs(command.postings),
                    "metadata": dict(command.metadata),
                    "pending": command.pending,
                    "expire_at": command.expire_at.isoformat() if command.expire_at else None,
                    "ttl": command.ttl.total_seconds() if command.ttl else None,
                }
            ),
        )

    async def create(self, command: commands.CreateTransaction) -> Transaction:
        """One CreateTransaction: a group of one (``create_group``)."""
        (outcome,) = await self.create_group([Submission(command)])
        if isinstance(outcome, Transaction):
            return outcome
        raise outcome

    async def create_batch(self, command: commands.CreateTransactionBatch) -> list[Transaction]:
        """Record the transactions in order in one database transaction, all or none."""
        require_writer(command.caller)
        request_ids = [item.request_id for item in command.items]
        if len(set(request_ids)) != len(request_ids):
            raise errors.InvalidRequest("request_id values in a batch must be unique")
        outcomes = await self.create_group(
            [Submission(item) for item in command.items], atomic=True
        )
        done = [outcome for outcome in outcomes if isinstance(outcome, Transaction)]
        assert len(done) == len(outcomes)  # atomic: a refusal was raised
        return done

    async def create_group(
        self, submissions: Sequence[Submission], *, atomic: bool = False
    ) -> list[Outcome]:
        """Record CreateTransaction requests in one database transaction; per request its
        outcome, the transaction or why it was refused.

        The only way transactions are created: a group of independent requests (group commit:
        one refused fails alone), a group of one, or an atomic batch (``atomic``: the first
        refusal is raised and nothing is recorded).
        """
        outcomes: list[Outcome | None] = [None] * len(submissions)
        now = self._clock()
        fresh: dict[int, Transaction] = {}
        for i, submission in enumerate(submissions):
            try:
                require_writer(submission.command.caller)
                fresh[i] = self.new_transaction(submission.command, now)
            except (errors.LedgerError, CallerRefused) as exc:
                if atomic:
                    raise
                outcomes[i] = exc
        if not fresh:
            return [outcome for outcome in outcomes if outcome is not None]
        # Two requests in one group with the same (scope, request id): the later one follows
        # the first, exactly as if it had arrived after it.
        leader: dict[tuple[str, str], int] = {}
        followers: dict[int, int] = {}
        for i, tx in fresh.items():
            key = (tx.scope, tx.request_id)
            if key in leader:
                followers[i] = leader[key]
            else:
                leader[key] = i
        # Claimed in (scope, request id) order: two groups sharing request ids queue, not
        # deadlock.
        claimants = sorted(leader.values(), key=lambda i: (fresh[i].scope, fresh[i].request_id))
        touched = {account_id for tx in fresh.values() for account_id in tx.account_ids}
        async with self._uow() as uow:
            claim = await uow.postings.claim([fresh[i] for i in claimants], lock=touched)
            new: list[int] = []
            for i, first in zip(claimants, claim.firsts, strict=True):
                if first is None:
                    new.append(i)
                    continue
                repeat = _repeat(first, fresh[i])
                if atomic and not isinstance(repeat, Transaction):
                    raise repeat
                outcomes[i] = repeat
            new.sort()
            refusals = await record_postings(
                uow,
                claim.locked,
                [
                    Recording(
                        submissions[i].command.caller,
                        fresh[i],
                        entries_for(fresh[i].kind, fresh[i].postings),
                        _created(fresh[i]),
                        submissions[i].context,
                    )
                    for i in new
                ],
                atomic=atomic,
            )
            for i, why in zip(new, refusals, strict=True):
                outcomes[i] = why or fresh[i]
            await uow.commit()
        for i, lead in followers.items():
            first_outcome = outcomes[lead]
            if isinstance(first_outcome, Transaction):
                outcomes[i] = _repeat(first_outcome, fresh[i])
            else:
                outcomes[i] = first_outcome
        assert all(outcome is not None for outcome in outcomes)
        return [outcome for outcome in outcomes if outcome is not None]

    async def post_pending(self, command: commands.PostPending) -> Resolution:
        require_writer(command.caller)
        async with self._uow() as uow:
            hold = await self._hold(uow, command.caller, command.transaction_id)
            legs = partial_postings(hold.postings, command.amount)
            resolution = await self._resolve(
                uow,
                command.caller,
                hold,
                TransactionKind.POST_PENDING,
                legs,
                request_id=command.request_id,
                metadata=command.metadata,
                digest_extra={"amount": command.amount},
            )
            await uow.commit()
        return resolution

    async def void_pending(self, command: commands.VoidPending) -> Resolution:
        require_writer(command.caller)
        async with self._uow() as uow:
            hold = await self._hold(uow, command.caller, command.transaction_id)
            resolution = await self._resolve(
                uow,
                command.caller,
                hold,
                TransactionKind.VOID_PENDING,
                (),
                request_id=command.request_id,
                metadata=command.metadata,
            )
            await uow.commit()
        return resolution

    async def expire_due(self, limit: int = EXPIRY_BATCH) -> int:
        """Release up to ``limit`` holds whose expiry passed (background sweeper).

        One hold per database transaction: each locks its balance rows in one sorted round,
        as every other writer does, so the sweeper cannot deadlock with them. The due hold
        is found acting for the platform (holds of every organization), then the release
        acts for the hold's maker: its organization, or the platform for a hold a platform
        caller made (which may span organizations).
        """
        now = self._clock()
        released = 0
        while released < limit:
            with acting_for(PLATFORM):
                async with self._uow() as uow:
                    due = await uow.transactions.due_holds(now, 1)
                    if not due:
                        break
                    hold = await uow.transactions.get(due[0], lock=True)
                    assert hold is not None
                    await uow.act_for(maker_scope(hold))
                    system = Caller("ledger", hold.org_id, kind="service")
                    await self._resolve(
                        uow,
                        system,
                        hold,
                        TransactionKind.EXPIRE_PENDING,
                        (),
                        request_id=f"expire:{hold.id}",
                        metadata={},
                        check_expiry=False,
                    )
                    await uow.commit()
            released += 1
        return released

    async def reverse(self, command: commands.ReverseTransaction) -> Transaction:
        require_writer(command.caller)
        async with self._uow() as uow:
            original = await uow.transactions.get(command.transaction_id, lock=True)
            if original is None or not await _visible(uow, command.caller, original):
                raise errors.TransactionNotFound(
                    f"transaction {command.transaction_id} not found",
                    transaction_id=command.transaction_id,
                )
            reversal = self._derived(
                command.caller,
                TransactionKind.REVERSAL,
                reversal_postings(original.postings),
                request_id=command.request_id,
                metadata=command.metadata,
                link={"reversed_id": original.id},
            )
            claim = await uow.postings.claim([reversal], lock=reversal.account_ids)
            (first,) = claim.firsts
            if first is not None:
                return replay(
                    first, first.fingerprint, reversal.fingerprint, partial(reused, reversal)
                )
            if original.kind not in (TransactionKind.STANDARD, TransactionKind.POST_PENDING):
                raise errors.TransactionNotReversible(
                    f"a {original.kind} transaction cannot be reversed",
                    transaction_id=original.id,
                )
            if original.resolved_by_id:
                raise errors.AlreadyReversed(
                    f"transaction {original.id} was reversed by {original.resolved_by_id}",
                    transaction_id=original.id,
                )
            reversed_ = replace(original, resolved_by_id=reversal.id)
            await record_postings(
                uow,
                claim.locked,
                [
                    Recording(
                        command.caller,
                        reversal,
                        entries_for(reversal.kind, reversal.postings),
                        ev.TransactionReversed(reversed_, reversal),
                    )
                ],
                atomic=True,
            )
            await uow.transactions.resolve(original.id, original.state, reversal.id)
            await uow.commit()
        return reversal

    async def _hold(
        self, uow: LedgerUnitOfWork, caller: Caller, transaction_id: str
    ) -> Transaction:
        # The hold row is locked first: concurrent resolutions of one hold queue here.
        hold = await uow.transactions.get(transaction_id, lock=True)
        if hold is None or not await _visible(uow, caller, hold):
            raise errors.TransactionNotFound(
                f"transaction {transaction_id} not found", transaction_id=transaction_id
            )
        return hold

    def _derived(
        self,
        caller: Caller,
        kind: TransactionKind,
        legs: tuple[Posting, ...],
        *,
        request_id: str,
        metadata: Mapping[str, str],
        link: Mapping[str, str],
        digest_extra: Mapping[str, Any] | None = None,
    ) -> Transaction:
        return Transaction(
            id=new_id(),
            org_id=caller.org_id,
            request_id=request_id,
            scope=idempotency_scope(caller),
            kind=kind,
            state=TransactionState.POSTED,
            postings=legs,
            metadata=dict(metadata),
            created_at=self._clock(),
            pending_id=link.get("pending_id"),
            reversed_id=link.get("reversed_id"),
            fingerprint=fingerprint(
                {"op": kind, **link, "metadata": dict(metadata), **(digest_extra or {})}
            ),
        )

    async def _resolve(
        self,
        uow: LedgerUnitOfWork,
        caller: Caller,
        hold: Transaction,
        kind: TransactionKind,
        legs: tuple[Posting, ...],
        *,
        request_id: str,
        metadata: Mapping[str, str],
        digest_extra: Mapping[str, Any] | None = None,
        check_expiry: bool = True,
    ) -> Resolution:
        resolving = self._derived(
            caller,
            kind,
            legs,
            request_id=request_id,
            metadata=metadata,
            link={"pending_id": hold.id},
            digest_extra=digest_extra,
        )
        # The hold's balance rows are locked with the claim: every resolution moves them.
        claim = await uow.postings.claim([resolving], lock=hold.account_ids)
        (first,) = claim.firsts
        if first is not None:
            return replay(
                first, first.fingerprint, resolving.fingerprint, partial(reused, resolving)
            ), hold
        if hold.kind is not TransactionKind.PENDING or hold.state is not TransactionState.PENDING:
            raise errors.TransactionNotPending(
                f"transaction {hold.id} is {hold.state}, not an open hold",
                transaction_id=hold.id,
                state=hold.state,
            )
        if check_expiry and hold.expires_at is not None and hold.expires_at <= resolving.created_at:
            raise errors.PendingExpired(f"hold {hold.id} has expired", transaction_id=hold.id)
        state = {
            TransactionKind.POST_PENDING: TransactionState.POSTED,
            TransactionKind.VOID_PENDING: TransactionState.VOIDED,
            TransactionKind.EXPIRE_PENDING: TransactionState.EXPIRED,
        }[kind]
        resolved = replace(hold, state=state, resolved_by_id=resolving.id)
        event: ev.DomainEvent
        if kind is TransactionKind.POST_PENDING:
            event = ev.PendingPosted(resolved, resolving)
        elif kind is TransactionKind.VOID_PENDING:
            event = ev.PendingVoided(resolved, resolving)
        else:
            event = ev.PendingExpired(resolved, resolving)
        entries: list[Entry] = entries_for(kind, legs, hold=hold.postings)
        await record_postings(
            uow, claim.locked, [Recording(caller, resolving, entries, event)], atomic=True
        )
        await uow.transactions.resolve(hold.id, state, resolving.id)
        return resolving, resolved


async def _visible(uow: LedgerUnitOfWork, caller: Caller, tx: Transaction) -> bool:
    """A transaction is visible to its org and to any org whose accounts it touches."""
    if sees(caller, tx.org_id):
        return True
    for account_id in sorted(tx.account_ids):
        account = await uow.accounts.get(account_id)
        if account is not None and sees(caller, account.org_id):
            return True
    return False


async def visible_transaction(
    uow: LedgerUnitOfWork, caller: Caller, transaction_id: str
) -> Transaction:
    require_reader(caller)
    tx = await uow.transactions.get(transaction_id)
    if tx is None or not await _visible(uow, caller, tx):
        raise errors.TransactionNotFound(
            f"transaction {transaction_id} not found", transaction_id=transaction_id
        )
    return tx
