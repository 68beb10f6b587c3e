"""The state a transaction row must have, given the transactions that resolved it."""

from __future__ import annotations

from ledger.domain.history import entries_match, expected_resolution
from ledger.domain.model import Posting, Side, TransactionKind, TransactionState
from ledger.domain.rules import entries_for

K, S = TransactionKind, TransactionState


def test_a_hold_is_pending_until_one_transaction_resolves_it() -> None:
    assert expected_resolution(K.PENDING, []) == (S.PENDING, None)
    assert expected_resolution(K.PENDING, [("v", K.VOID_PENDING)]) == (S.VOIDED, "v")
    assert expected_resolution(K.PENDING, [("p", K.POST_PENDING)]) == (S.POSTED, "p")
    assert expected_resolution(K.PENDING, [("e", K.EXPIRE_PENDING)]) == (S.EXPIRED, "e")
    assert expected_resolution(K.PENDING, [("v", K.VOID_PENDING), ("p", K.POST_PENDING)]) is None
    assert expected_resolution(K.PENDING, [("r", K.REVERSAL)]) is None


def test_only_standard_and_posted_holds_are_reversed() -> None:
    assert expected_resolution(K.STANDARD, []) == (S.POSTED, None)
    assert expected_resolution(K.STANDARD, [("r", K.REVERSAL)]) == (S.POSTED, "r")
    assert expected_resolution(K.POST_PENDING, [("r", K.REVERSAL)]) == (S.POSTED, "r")
    assert expected_resolution(K.REVERSAL, [("r", K.REVERSAL)]) is None
    assert expected_resolution(K.STANDARD, [("r", K.REVERSAL), ("s", K.REVERSAL)]) is None


def test_entries_must_be_exactly_what_the_postings_call_for() -> None:
    legs = (Posting("a", Side.DEBIT, 150, "USD"), Posting("b", Side.CREDIT, 150, "USD"))
    moved = entries_for(K.STANDARD, legs)
    assert entries_match(K.STANDARD, legs, (), moved)
    assert not entries_match(K.STANDARD, legs, (), moved[:1])
    cheaper = (Posting("a", Side.DEBIT, 60, "USD"), Posting("b", Side.CREDIT, 60, "USD"))
    assert not entries_match(K.STANDARD, cheaper, (), moved)
    assert not entries_match(K.PENDING, legs, (), moved)  # same legs, other bucket
