"""The deny set: what each kind of revocation refuses, and for how long."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from itertools import repeat

import pytest

from keel_runtime.revocation import (
    API_KEY,
    SESSION,
    USER,
    Revocations,
    bucket_key,
    decode_value,
    encode_value,
    parse_key,
)

NOW = 1_750_000_000
LIFETIME = 900
SKEW = 60


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deny(clock: Clock) -> Revocations:
    return Revocations(max_token_lifetime_s=LIFETIME, skew_s=SKEW, clock=clock)


def user_token(deny: Revocations, user: str, *, sid: str = "s-1", iat: int = NOW - 10) -> bool:
    return deny.refuses(subject=user, kind="user", session_id=sid, issued_at=iat)


def test_an_empty_set_refuses_nothing(deny: Revocations) -> None:
    assert not user_token(deny, "u-1")
    assert not deny.refuses(subject="k-1", kind="api_key", session_id="", issued_at=NOW)


def test_a_revoked_session_refuses_its_tokens_only(deny: Revocations) -> None:
    assert deny.revoke(SESSION, "s-1", NOW)
    assert user_token(deny, "u-1", sid="s-1")
    # Issued after the revocation (a clock running ahead): still the revoked session.
    assert user_token(deny, "u-1", sid="s-1", iat=NOW + 5)
    assert not user_token(deny, "u-1", sid="s-2")
    # A token without sid (API key, older issuer) is not taken for the session.
    assert not user_token(deny, "u-1", sid="")


def test_a_revoked_api_key_refuses_its_tokens_only(deny: Revocations) -> None:
    deny.revoke(API_KEY, "k-1", NOW)
    assert deny.refuses(subject="k-1", kind="api_key", session_id="", issued_at=NOW - 1)
    assert not deny.refuses(subject="k-2", kind="api_key", session_id="", issued_at=NOW - 1)
    # The same id as a user's subject is another thing altogether.
    assert not user_token(deny, "k-1")


def test_a_user_revocation_refuses_tokens_issued_at_or_before_it(deny: Revocations) -> None:
    deny.revoke(USER, "u-1", NOW)
    assert user_token(deny, "u-1", iat=NOW - 300)
    assert user_token(deny, "u-1", iat=NOW)
    assert not user_token(deny, "u-1", iat=NOW + 1)  # a login after reactivation
    assert not user_token(deny, "u-2", iat=NOW - 300)
    # It is the user's revocation, not their API keys' (those are revoked one by one).
    assert not deny.refuses(subject="u-1", kind="api_key", session_id="", issued_at=NOW - 1)


def test_a_later_user_revocation_wins_and_an_earlier_one_is_ignored(deny: Revocations) -> None:
    deny.revoke(USER, "u-1", NOW - 100)
    assert deny.revoke(USER, "u-1", NOW)
    assert user_token(deny, "u-1", iat=NOW - 50)
    assert not deny.revoke(USER, "u-1", NOW - 100)  # redelivered: does not move back
    assert user_token(deny, "u-1", iat=NOW - 50)
    assert not deny.revoke(USER, "u-1", NOW)  # known already


def test_entries_are_forgotten_after_the_lifetime_plus_skew(
    deny: Revocations, clock: Clock
) -> None:
    deny.revoke(SESSION, "s-1", NOW)
    deny.revoke(USER, "u-1", NOW)
    deny.revoke(API_KEY, "k-1", NOW)
    clock.now = NOW + LIFETIME + SKEW - 1
    assert deny.prune() == 0
    assert len(deny) == 3
    clock.now = NOW + LIFETIME + SKEW
    assert deny.prune() == 3
    assert len(deny) == 0
    assert not user_token(deny, "u-1", sid="s-1")


def test_revoking_prunes_now_and_then(clock: Clock) -> None:
    deny = Revocations(max_token_lifetime_s=LIFETIME, skew_s=SKEW, prune_every_s=30, clock=clock)
    for n in range(100):
        deny.revoke(SESSION, f"old-{n}", NOW)
    clock.now = NOW + LIFETIME + SKEW + 30
    deny.revoke(SESSION, "new", NOW + LIFETIME + SKEW + 30)
    assert [identifier for _, identifier, _ in deny.entries()] == ["new"]


def test_a_revocation_already_past_the_horizon_is_not_kept(deny: Revocations, clock: Clock) -> None:
    # E.g. an old event replayed: every token it could refuse has expired.
    assert not deny.revoke(SESSION, "s-1", NOW - LIFETIME - SKEW)
    assert len(deny) == 0


def test_the_horizon_only_widens(deny: Revocations, clock: Clock) -> None:
    deny.widen_horizon(3600)
    assert deny.horizon_s == 3600
    deny.widen_horizon(60)
    assert deny.horizon_s == 3600
    deny.revoke(SESSION, "s-1", NOW)
    clock.now = NOW + 3599
    deny.prune()
    assert user_token(deny, "u-1", sid="s-1")


def test_bucket_keys_and_values_round_trip() -> None:
    key = bucket_key(SESSION, "0b6a2c1e-7f3d-4c3b-9a51-2d9f0e8c7b6a")
    assert key == "session.0b6a2c1e-7f3d-4c3b-9a51-2d9f0e8c7b6a"
    assert parse_key(key) == (SESSION, "0b6a2c1e-7f3d-4c3b-9a51-2d9f0e8c7b6a")
    assert parse_key("api_key.k1") == (API_KEY, "k1")
    assert decode_value(encode_value(NOW)) == NOW


@pytest.mark.parametrize("key", ["session", "session.", "group.g-1", "user.a b", "user.a.b*"])
def test_unknown_keys_are_not_parsed(key: str) -> None:
    assert parse_key(key) is None


@pytest.mark.parametrize("value", [b"", b"soon", b"-5", b"\xff", None])
def test_unknown_values_are_not_decoded(value: bytes | None) -> None:
    assert decode_value(value) is None


@pytest.mark.parametrize("identifier", ["", "a.b", "a b", "a>", "*"])
def test_ids_that_are_not_one_key_token_are_refused(identifier: str) -> None:
    with pytest.raises(ValueError):
        bucket_key(USER, identifier)
    with pytest.raises(ValueError):
        bucket_key("group", "g-1")


def _peak_allocation(work: Callable[[], None]) -> int:
    """Bytes allocated at the peak while ``work`` runs, beyond what was there before."""
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def test_the_check_allocates_nothing(deny: Revocations) -> None:
    """The verifier asks for every token: hits and misses must not allocate.

    Measured against the same loop doing nothing (tracemalloc's own bookkeeping): anything
    a check allocated, even freed at once, would raise the peak above it.
    """
    for n in range(1000):
        deny.revoke(SESSION, f"s-{n}", NOW)
        deny.revoke(USER, f"u-{n}", NOW)
    subject, sid, key, later = "u-500", "s-500", "k-1", NOW + 1
    refuses = deny.refuses

    def checks() -> None:
        for _ in repeat(None, 10_000):
            refuses(subject=subject, kind="user", session_id=sid, issued_at=NOW)
            refuses(subject=subject, kind="user", session_id="", issued_at=later)
            refuses(subject="nobody", kind="user", session_id="none", issued_at=NOW)
            refuses(subject=key, kind="api_key", session_id="", issued_at=NOW)

    def nothing() -> None:
        for _ in repeat(None, 10_000):
            pass

    checks()  # warm up
    assert _peak_allocation(checks) <= _peak_allocation(nothing)
