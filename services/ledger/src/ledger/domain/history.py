"""What a transaction row must say, given its entries and the transactions that resolved it.

VerifyLedger holds every stored transaction to these rules, so a row rewritten behind the
append-only trigger's back (postings, kind, state) no longer matches the chained entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from ledger.domain.model import Entry, Posting, TransactionKind, TransactionState
from ledger.domain.rules import entries_for

# The state a hold takes when a transaction of this kind resolves it.
HOLD_OUTCOME = {
    TransactionKind.POST_PENDING: TransactionState.POSTED,
    TransactionKind.VOID_PENDING: TransactionState.VOIDED,
    TransactionKind.EXPIRE_PENDING: TransactionState.EXPIRED,
}
REVERSIBLE = frozenset({TransactionKind.STANDARD, TransactionKind.POST_PENDING})


def entries_match(
    kind: TransactionKind,
    postings: Sequence[Posting],
    hold: Sequence[Posting],
    entries: Iterable[Entry],
) -> bool:
    """Whether the entries are exactly the movements the postings (and the hold) call for."""
    return Counter(entries_for(kind, postings, hold=hold)) == Counter(entries)


def expected_resolution(
    kind: TransactionKind, resolvers: Sequence[tuple[str, TransactionKind]]
) -> tuple[TransactionState, str | None] | None:
    """The (state, resolved_by_id) a transaction must have, given the transactions that name it
    as their hold or as what they reverse; None if no state is consistent with them."""
    if kind is TransactionKind.PENDING:
        if not resolvers:
            return TransactionState.PENDING, None
        if len(resolvers) == 1 and resolvers[0][1] in HOLD_OUTCOME:
            resolver_id, resolver_kind = resolvers[0]
            return HOLD_OUTCOME[resolver_kind], resolver_id
        return None
    if not resolvers:
        return TransactionState.POSTED, None
    if kind in REVERSIBLE and len(resolvers) == 1 and resolvers[0][1] is TransactionKind.REVERSAL:
        return TransactionState.POSTED, resolvers[0][0]
    return None
