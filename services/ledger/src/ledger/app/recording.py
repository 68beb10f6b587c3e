"""The one routine recording postings: every write that moves money ends here.

Creates (a group of independent requests, or an atomic batch), hold resolutions and
reversals each claim their transactions first (``Postings.claim``, which also locks the
balance rows they touch) and hand what it locked to ``record_postings``.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from dataclasses import dataclass, replace

from keel_runtime.caller import Caller
from ledger.app.access import sees
from ledger.app.ports import LedgerUnitOfWork, Locked
from ledger.domain import errors
from ledger.domain.chain import ChainedEntry, link
from ledger.domain.events import DomainEvent
from ledger.domain.model import Balance, Entry, Side, Transaction
from ledger.domain.permissions import check_may_debit
from ledger.domain.rules import apply_entries


@dataclass(frozen=True)
class Recording:
    """A claimed transaction to record: its entries, who asks, and the event it announces
    (recorded in ``context``, the requester's, when given: it carries their request id)."""

    caller: Caller
    transaction: Transaction
    entries: Sequence[Entry]
    event: DomainEvent
    context: contextvars.Context | None = None


async def record_postings(
    uow: LedgerUnitOfWork, locked: Locked, recordings: Sequence[Recording], *, atomic: bool
) -> list[errors.LedgerError | None]:
    """Check and apply each transaction's entries, in order, to the ``locked`` balance rows;
    chain the accepted ones, write them with the new balances, and record their events.
    Per transaction None or why it was refused.

    ``locked`` must hold every account the entries touch that the unit of work may see (an
    account missing from it is not found). ``atomic`` raises the first refusal (the caller
    rolls back); otherwise a refused transaction is discarded and the rest are written
    (group commit of independent requests).
    """
    current = dict(locked)
    outcome: list[errors.LedgerError | None] = []
    for r in recordings:
        try:
            for account_id in sorted({e.account_id for e in r.entries}):
                pair = current.get(account_id)
                if pair is None or not sees(r.caller, pair[0].org_id):
                    raise errors.AccountNotFound(
                        f"account {account_id} not found", account_id=account_id
                    )
            for entry in r.entries:
                # Growing an account's debits moves money out of it (a negative pending
                # entry only releases a hold).
                if entry.side is Side.DEBIT and entry.amount > 0:
                    check_may_debit(current[entry.account_id][0], by_platform=r.caller.is_platform)
            new = apply_entries(current, r.entries)
        except errors.LedgerError as exc:
            if atomic:
                raise
            outcome.append(exc)
            continue
        for account_id, balance in new.items():
            current[account_id] = (current[account_id][0], balance)
        outcome.append(None)
    accepted = [r for r, why in zip(recordings, outcome, strict=True) if why is None]
    # Chain the accepted entries per account, in order, while the balance rows are locked.
    chained: list[ChainedEntry] = []
    changed: dict[str, Balance] = {}
    for r in accepted:
        tx = r.transaction
        for entry in r.entries:
            account, balance = current[entry.account_id]
            seq = balance.entry_count + 1
            digest = link(balance.head_hash, seq, tx.id, entry, tx.created_at)
            chained.append(ChainedEntry(tx.id, entry, tx.created_at, seq, digest))
            balance = replace(balance, entry_count=seq, head_hash=digest)
            current[entry.account_id] = (account, balance)
            changed[entry.account_id] = balance
    if chained:
        await uow.postings.write(changed, chained)
    refused = [r.transaction.id for r, why in zip(recordings, outcome, strict=True) if why]
    if refused:
        await uow.postings.discard(refused)
    for r in accepted:
        if r.context is None:
            uow.record(r.event)
        else:
            r.context.run(uow.record, r.event)
    return outcome
