"""Transaction handlers: create (single and batch), post and void holds, reverse, expire."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

from keel_runtime.caller import Caller
from keel_runtime.idempotency import fingerprint, replay
from keel_runtime.ids import new_id
from keel_runtime.tenancy import PLATFORM, acting_for
from ledger.app import commands, posting
from ledger.app.access import idempotency_scope, require_reader, require_writer, sees
from ledger.app.ports import Clock, LedgerUnitOfWork, UnitOfWorkFactory
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


async def _claim_all(
    uow: LedgerUnitOfWork, transactions: Sequence[Transaction]
) -> list[Transaction | None]:
    """Per transaction: None if new; the first result if its request id was seen."""
    firsts = await uow.transactions.claim(transactions)
    for transaction, first in zip(transactions, firsts, strict=True):
        if first is not None:
            replay(first, first.fingerprint, transaction.fingerprint, partial(reused, transaction))
    return firsts


def reused(transaction: Transaction, first: Transaction | None = None) -> errors.RequestIdReused:
    """The refusal of ``transaction``'s request id, first used (by ``first``) with another
    payload."""
    return errors.RequestIdReused(
        f"request_id {transaction.request_id!r} was used with a different payload",
        request_id=transaction.request_id,
    )


async def _claim(uow: LedgerUnitOfWork, transaction: Transaction) -> Transaction | None:
    (first,) = await _claim_all(uow, [transaction])
    return first


class TransactionHandlers:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    @property
    def uow(self) -> UnitOfWorkFactory:
        return self._uow

    @property
    def clock(self) -> Clock:
        return self._clock

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
        (transaction,) = await self.create_batch(
            commands.CreateTransactionBatch(command.caller, (command,))
        )
        return transaction

    async def create_batch(self, command: commands.CreateTransactionBatch) -> list[Transaction]:
        """Record the transactions in order in one database transaction (group commit)."""
        require_writer(command.caller)
        request_ids = [item.request_id for item in command.items]
        if len(set(request_ids)) != len(request_ids):
            raise errors.InvalidRequest("request_id values in a batch must be unique")
        now = self._clock()
        fresh = [self.new_transaction(item, now) for item in command.items]
        async with self._uow() as uow:
            # Claim in request-id order: two batches sharing request ids queue, not deadlock.
            ordered = sorted(fresh, key=lambda t: t.request_id)
            firsts = await _claim_all(uow, ordered)
            results = {t.request_id: first or t for t, first in zip(ordered, firsts, strict=True)}
            new = [t for t in fresh if results[t.request_id] is t]
            if new:
                await posting.post(
                    uow, command.caller, [(t, entries_for(t.kind, t.postings)) for t in new]
                )
                for t in new:
                    uow.record(
                        ev.PendingCreated(t)
                        if t.kind is TransactionKind.PENDING
                        else ev.TransactionPosted(t)
                    )
            await uow.commit()
        return [results[request_id] for request_id in request_ids]

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
            first = await _claim(uow, reversal)
            if first is not None:
                return first
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
            await posting.post(
                uow, command.caller, [(reversal, entries_for(reversal.kind, reversal.postings))]
            )
            await uow.transactions.resolve(original.id, original.state, reversal.id)
            uow.record(
                ev.TransactionReversed(replace(original, resolved_by_id=reversal.id), reversal)
            )
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
        first = await _claim(uow, resolving)
        if first is not None:
            return first, hold
        if hold.kind is not TransactionKind.PENDING or hold.state is not TransactionState.PENDING:
            raise errors.TransactionNotPending(
                f"transaction {hold.id} is {hold.state}, not an open hold",
                transaction_id=hold.id,
                state=hold.state,
            )
        if check_expiry and hold.expires_at is not None and hold.expires_at <= resolving.created_at:
            raise errors.PendingExpired(f"hold {hold.id} has expired", transaction_id=hold.id)
        entries: list[Entry] = entries_for(kind, legs, hold=hold.postings)
        await posting.post(uow, caller, [(resolving, entries)])
        state = {
            TransactionKind.POST_PENDING: TransactionState.POSTED,
            TransactionKind.VOID_PENDING: TransactionState.VOIDED,
            TransactionKind.EXPIRE_PENDING: TransactionState.EXPIRED,
        }[kind]
        await uow.transactions.resolve(hold.id, state, resolving.id)
        resolved = replace(hold, state=state, resolved_by_id=resolving.id)
        event: ev.DomainEvent
        if kind is TransactionKind.POST_PENDING:
            event = ev.PendingPosted(resolved, resolving)
        elif kind is TransactionKind.VOID_PENDING:
            event = ev.PendingVoided(resolved, resolving)
        else:
            event = ev.PendingExpired(resolved, resolving)
        uow.record(event)
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
