"""The posting step shared by every write: lock balances in order, apply entries, save."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from keel_runtime.caller import Caller
from ledger.app.access import sees
from ledger.app.ports import LedgerUnitOfWork
from ledger.domain import errors
from ledger.domain.chain import ChainedEntry, link
from ledger.domain.model import Balance, Entry, Side, Transaction
from ledger.domain.permissions import check_may_debit
from ledger.domain.rules import apply_entries

Work = tuple[Caller, Transaction, Sequence[Entry]]


async def apply_each(
    uow: LedgerUnitOfWork, work: Sequence[Work], *, atomic: bool
) -> list[errors.LedgerError | None]:
    """Apply each transaction's entries in order; per transaction None or why it was refused.

    All balance rows involved are locked at once in sorted id order: two writers touching
    the same accounts always queue in the same order and cannot deadlock. ``atomic`` raises
    the first refusal (the caller rolls back); otherwise a refused transaction is skipped and
    the rest are saved (group commit of independent requests).
    """
    account_ids = sorted({e.account_id for _, _, entries in work for e in entries})
    locked = await uow.accounts.lock(account_ids)
    current = dict(locked)
    changed: dict[str, Balance] = {}
    outcome: list[errors.LedgerError | None] = []
    for caller, _, entries in work:
        try:
            for account_id in sorted({e.account_id for e in entries}):
                pair = current.get(account_id)
                if pair is None or not sees(caller, pair[0].org_id):
                    raise errors.AccountNotFound(
                        f"account {account_id} not found", account_id=account_id
                    )
            for entry in entries:
                # Growing an account's debits moves money out of it (a negative pending
                # entry only releases a hold).
                if entry.side is Side.DEBIT and entry.amount > 0:
                    check_may_debit(current[entry.account_id][0], by_platform=caller.is_platform)
            new = apply_entries(current, entries)
        except errors.LedgerError as exc:
            if atomic:
                raise
            outcome.append(exc)
            continue
        for account_id, balance in new.items():
            current[account_id] = (current[account_id][0], balance)
        outcome.append(None)
    # Chain the accepted entries per account, in order, while the balance rows are locked.
    chained: list[ChainedEntry] = []
    for (_, tx, entries), refused in zip(work, outcome, strict=True):
        if refused:
            continue
        for entry in entries:
            account, balance = current[entry.account_id]
            seq = balance.entry_count + 1
            digest = link(balance.head_hash, seq, tx.id, entry, tx.created_at)
            chained.append(ChainedEntry(tx.id, entry, tx.created_at, seq, digest))
            balance = replace(balance, entry_count=seq, head_hash=digest)
            current[entry.account_id] = (account, balance)
            changed[entry.account_id] = balance
    await uow.accounts.save_balances(changed)
    await uow.transactions.add_entries(chained)
    return outcome


async def post(
    uow: LedgerUnitOfWork,
    caller: Caller,
    batch: Sequence[tuple[Transaction, Sequence[Entry]]],
) -> None:
    """Apply the transactions' entries in order, all or nothing."""
    await apply_each(uow, [(caller, tx, entries) for tx, entries in batch], atomic=True)
