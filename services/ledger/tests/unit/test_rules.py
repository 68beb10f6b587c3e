"""Double-entry rules: balance per asset, entries per kind, bounds, partial posts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.domain import errors
from ledger.domain.assets import currency_asset
from ledger.domain.model import (
    Account,
    AccountKind,
    Asset,
    Balance,
    BalanceBound,
    Bucket,
    Posting,
    Side,
    TransactionKind,
)
from ledger.domain.rules import (
    apply_entries,
    check_balanced,
    entries_for,
    partial_postings,
    reversal_postings,
)

D, C = Side.DEBIT, Side.CREDIT


def account(
    account_id: str, bound: BalanceBound = BalanceBound.NONE, overdraft: int = 0
) -> Account:
    return Account(
        account_id, "org", AccountKind.WALLET, Asset("USD", 2), bound, overdraft, {},
        datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip


def test_balanced_per_asset_passes() -> None:
    check_balanced(
        [
            Posting("a", D, 100, "USD"),
            Posting("b", C, 60, "USD"),
            Posting("c", C, 40, "USD"),
            Posting("d", D, 5, "EUR"),
            Posting("e", C, 5, "EUR"),
        ]
    )


@pytest.mark.parametrize(
    "postings",
    [
        [Posting("a", D, 100, "USD"), Posting("b", C, 99, "USD")],
        # Balanced in total but not per asset.
        [Posting("a", D, 100, "USD"), Posting("b", C, 100, "EUR")],
        [Posting("a", D, 100, "USD")],
    ],
)
def test_unbalanced_is_refused(postings: list[Posting]) -> None:
    with pytest.raises(errors.UnbalancedTransaction) as info:
        check_balanced(postings)
    assert info.value.reason == "UNBALANCED_TRANSACTION"


def test_debit_bound_refuses_overdraw_and_allows_overdraft() -> None:
    wallet = account("w", BalanceBound.DEBITS_MUST_NOT_EXCEED_CREDITS, overdraft=50)
    funding = account("f")
    state = {"w": (wallet, Balance(credits_posted=100)), "f": (funding, Balance())}
    ok = apply_entries(state, entries_for(TransactionKind.STANDARD, [
        Posting("w", D, 150, "USD"), Posting("f", C, 150, "USD")]))  # fmt: skip
    assert ok["w"].debits_posted == 150
    with pytest.raises(errors.InsufficientFunds) as info:
        apply_entries(state, entries_for(TransactionKind.STANDARD, [
            Posting("w", D, 151, "USD"), Posting("f", C, 151, "USD")]))  # fmt: skip
    assert info.value.metadata["available"] == "150"


def test_pending_debits_count_against_the_bound() -> None:
    wallet = account("w", BalanceBound.DEBITS_MUST_NOT_EXCEED_CREDITS)
    state = {
        "w": (wallet, Balance(credits_posted=100, debits_pending=80)),
        "f": (account("f"), Balance()),
    }
    with pytest.raises(errors.InsufficientFunds):
        apply_entries(state, entries_for(TransactionKind.PENDING, [
            Posting("w", D, 21, "USD"), Posting("f", C, 21, "USD")]))  # fmt: skip


def test_credit_bound_refuses_excess_credits() -> None:
    liability = account("l", BalanceBound.CREDITS_MUST_NOT_EXCEED_DEBITS)
    state = {"l": (liability, Balance(debits_posted=10)), "f": (account("f"), Balance())}
    with pytest.raises(errors.ExceedsDebits):
        apply_entries(state, entries_for(TransactionKind.STANDARD, [
            Posting("f", D, 11, "USD"), Posting("l", C, 11, "USD")]))  # fmt: skip


def test_releasing_a_hold_is_never_refused_by_a_bound() -> None:
    wallet = account("w", BalanceBound.DEBITS_MUST_NOT_EXCEED_CREDITS)
    hold = [Posting("w", D, 80, "USD"), Posting("f", C, 80, "USD")]
    state = {
        "w": (wallet, Balance(debits_pending=80)),
        "f": (account("f"), Balance(credits_pending=80)),
    }
    new = apply_entries(state, entries_for(TransactionKind.VOID_PENDING, (), hold=hold))
    assert new["w"] == Balance() and new["f"] == Balance()


def test_post_pending_moves_pending_to_posted() -> None:
    hold = [Posting("w", D, 80, "USD"), Posting("f", C, 80, "USD")]
    posted = partial_postings(hold, 30)
    entries = entries_for(TransactionKind.POST_PENDING, posted, hold=hold)
    assert {(e.account_id, e.bucket, e.amount) for e in entries} == {
        ("w", Bucket.PENDING, -80), ("f", Bucket.PENDING, -80),
        ("w", Bucket.POSTED, 30), ("f", Bucket.POSTED, 30),
    }  # fmt: skip


def test_partial_post_limits() -> None:
    hold = [Posting("w", D, 80, "USD"), Posting("f", C, 80, "USD")]
    assert partial_postings(hold, 0) == tuple(hold)
    with pytest.raises(errors.AmountExceedsPending):
        partial_postings(hold, 81)
    three = [*hold[:1], Posting("f", C, 40, "USD"), Posting("g", C, 40, "USD")]
    with pytest.raises(errors.PartialPostUnsupported):
        partial_postings(three, 10)


def test_asset_mismatch_and_unknown_account() -> None:
    state = {"w": (account("w"), Balance())}
    with pytest.raises(errors.AssetMismatch):
        apply_entries(state, entries_for(TransactionKind.STANDARD, [Posting("w", D, 1, "EUR")]))
    with pytest.raises(errors.AccountNotFound):
        apply_entries(state, entries_for(TransactionKind.STANDARD, [Posting("x", D, 1, "USD")]))


def test_overflow_is_refused() -> None:
    state = {"w": (account("w"), Balance(debits_posted=2**63 - 1)), "f": (account("f"), Balance())}
    with pytest.raises(errors.AmountOverflow):
        apply_entries(state, entries_for(TransactionKind.STANDARD, [
            Posting("w", D, 1, "USD"), Posting("f", C, 1, "USD")]))  # fmt: skip


def test_reversal_swaps_sides() -> None:
    assert reversal_postings([Posting("w", D, 5, "USD")]) == (Posting("w", C, 5, "USD"),)


def test_currency_scales() -> None:
    assert currency_asset("usd") == Asset("USD", 2)
    assert currency_asset("JPY") == Asset("JPY", 0)
    assert currency_asset("") == Asset("USD", 2)


@pytest.mark.parametrize(
    "legs",
    [
        [Posting("a", D, 10, "USD"), Posting("a", C, 10, "USD")],
        # Multi-leg: one account on both sides, whatever else the transaction moves.
        [Posting("a", D, 10, "USD"), Posting("b", C, 4, "USD"), Posting("a", C, 6, "USD")],
    ],
)
def test_an_account_on_both_sides_is_refused(legs: list[Posting]) -> None:
    with pytest.raises(errors.AccountsMustBeDifferent) as info:
        check_balanced(legs)
    assert info.value.metadata == {"account_id": "a"}


def test_an_account_twice_on_one_side_is_allowed() -> None:
    check_balanced(
        [Posting("a", D, 4, "USD"), Posting("a", D, 6, "USD"), Posting("b", C, 10, "USD")]
    )
