"""Double-entry rules: balance per asset, entries per transaction kind, balance bounds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from ledger.domain import errors
from ledger.domain.model import (
    INT64_MAX,
    Account,
    Balance,
    BalanceBound,
    Bucket,
    Entry,
    Posting,
    Side,
    TransactionKind,
)


def check_balanced(postings: Sequence[Posting]) -> None:
    """Per asset, debits must equal credits; a transaction needs at least two legs, and no
    account may be on both sides."""
    if len(postings) < 2:
        raise errors.UnbalancedTransaction("a transaction needs at least two postings")
    check_accounts_different(postings)
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        if posting.amount <= 0:
            raise errors.InvalidRequest(
                "posting amounts must be positive", account_id=posting.account_id
            )
        totals[posting.asset_code] += (
            posting.amount if posting.side is Side.DEBIT else -posting.amount
        )
    for asset_code, net in sorted(totals.items()):
        if net != 0:
            raise errors.UnbalancedTransaction(
                f"debits and credits of {asset_code} differ by {abs(net)}",
                asset_code=asset_code,
                difference=str(net),
            )


def check_accounts_different(postings: Sequence[Posting]) -> None:
    """Refuse an account that is both debited and credited (TigerBeetle's
    ``accounts_must_be_different``, for multi-leg transactions)."""
    debited = {p.account_id for p in postings if p.side is Side.DEBIT}
    both = sorted(debited & {p.account_id for p in postings if p.side is Side.CREDIT})
    if both:
        raise errors.AccountsMustBeDifferent(
            f"account {both[0]} is on both the debit and the credit side",
            account_id=both[0],
        )


def _entries(postings: Iterable[Posting], bucket: Bucket, sign: int = 1) -> list[Entry]:
    return [Entry(p.account_id, p.asset_code, p.side, bucket, sign * p.amount) for p in postings]


def entries_for(
    kind: TransactionKind,
    postings: Sequence[Posting],
    *,
    hold: Sequence[Posting] = (),
) -> list[Entry]:
    """The balance movements of a transaction; ``hold`` holds the resolved pending legs."""
    if kind is TransactionKind.STANDARD or kind is TransactionKind.REVERSAL:
        return _entries(postings, Bucket.POSTED)
    if kind is TransactionKind.PENDING:
        return _entries(postings, Bucket.PENDING)
    if kind is TransactionKind.POST_PENDING:
        return _entries(hold, Bucket.PENDING, -1) + _entries(postings, Bucket.POSTED)
    # VOID_PENDING and EXPIRE_PENDING release the whole hold and post nothing.
    return _entries(hold, Bucket.PENDING, -1)


def reversal_postings(postings: Sequence[Posting]) -> tuple[Posting, ...]:
    """The compensating legs: same accounts and amounts, sides swapped."""
    swap = {Side.DEBIT: Side.CREDIT, Side.CREDIT: Side.DEBIT}
    return tuple(Posting(p.account_id, swap[p.side], p.amount, p.asset_code) for p in postings)


def partial_postings(hold: Sequence[Posting], amount: int) -> tuple[Posting, ...]:
    """The legs that post ``amount`` of a hold (0: all of it); only two-leg holds can be cut."""
    if amount == 0 or all(p.amount == amount for p in hold):
        return tuple(hold)
    if len(hold) != 2:
        raise errors.PartialPostUnsupported(
            "only a two-leg pending transaction can be posted in part"
        )
    if amount > hold[0].amount:
        raise errors.AmountExceedsPending(
            f"amount {amount} exceeds the held {hold[0].amount}", held=str(hold[0].amount)
        )
    return tuple(Posting(p.account_id, p.side, amount, p.asset_code) for p in hold)


def apply_entries(
    accounts: Mapping[str, tuple[Account, Balance]], entries: Sequence[Entry]
) -> dict[str, Balance]:
    """New balances of the touched accounts, or the error that refuses the transaction.

    A bound is checked only on accounts whose bounded side grows, so releasing a hold or
    crediting a wallet is never refused even if an earlier rule change left it out of bounds.
    """
    new: dict[str, Balance] = {}
    growth: dict[str, dict[Side, int]] = defaultdict(lambda: {Side.DEBIT: 0, Side.CREDIT: 0})
    for entry in entries:
        pair = accounts.get(entry.account_id)
        if pair is None:
            raise errors.AccountNotFound(
                f"account {entry.account_id} not found", account_id=entry.account_id
            )
        account, balance = pair
        if account.asset.code != entry.asset_code:
            raise errors.AssetMismatch(
                f"account {account.id} holds {account.asset.code}, not {entry.asset_code}",
                account_id=account.id,
                asset_code=account.asset.code,
            )
        new[account.id] = new.get(account.id, balance).plus(entry)
        growth[account.id][entry.side] += entry.amount
    for account_id, balance in new.items():
        account = accounts[account_id][0]
        if (
            max(
                balance.debits_posted + balance.debits_pending,
                balance.credits_posted + balance.credits_pending,
            )
            > INT64_MAX
        ):
            raise errors.AmountOverflow(
                f"account {account_id} would overflow", account_id=account_id
            )
        _check_bound(account, balance, growth[account_id])
    return new


def _check_bound(account: Account, balance: Balance, growth: Mapping[Side, int]) -> None:
    debits = balance.debits_posted + balance.debits_pending
    credits = balance.credits_posted + balance.credits_pending
    if (
        account.bound is BalanceBound.DEBITS_MUST_NOT_EXCEED_CREDITS
        and growth[Side.DEBIT] > 0
        and debits > balance.credits_posted + account.overdraft_limit
    ):
        raise errors.InsufficientFunds(
            f"account {account.id} has insufficient funds",
            account_id=account.id,
            available=str(
                balance.credits_posted + account.overdraft_limit - debits + growth[Side.DEBIT]
            ),
        )
    if (
        account.bound is BalanceBound.CREDITS_MUST_NOT_EXCEED_DEBITS
        and growth[Side.CREDIT] > 0
        and credits > balance.debits_posted
    ):
        raise errors.ExceedsDebits(
            f"credits on account {account.id} would exceed its debits", account_id=account.id
        )
