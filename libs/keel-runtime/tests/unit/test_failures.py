"""Which dead letters a dependency outage caused, and the redrive policy's bounds."""

from __future__ import annotations

import pytest

from keel_runtime.events.failures import DEPENDENCY, HANDLER, RedrivePolicy, error_class


class FeeNotPosted(Exception):
    pass


def _wrapped(cause: Exception) -> FeeNotPosted:
    try:
        raise cause
    except Exception as exc:
        try:
            raise FeeNotPosted("cannot post the fee") from exc
        except FeeNotPosted as wrapped:
            return wrapped


def test_an_error_raised_from_a_refused_connection_is_a_dependency_failure() -> None:
    assert error_class(_wrapped(ConnectionRefusedError())) == DEPENDENCY


def test_an_error_raised_while_handling_a_timeout_is_a_dependency_failure() -> None:
    try:
        try:
            raise TimeoutError
        except TimeoutError:
            raise KeyError("missing") from None  # suppressed context still is not a cause
    except KeyError as exc:
        assert error_class(exc) == HANDLER
    try:
        try:
            raise TimeoutError
        except TimeoutError:
            raise KeyError("missing")  # noqa: B904 - the implicit context is the point
    except KeyError as exc:
        assert error_class(exc) == DEPENDENCY


def test_a_plain_error_is_the_handler_s() -> None:
    assert error_class(_wrapped(ValueError("bad amount"))) == HANDLER
    assert error_class(RuntimeError("bug")) == HANDLER


def test_the_policy_bounds() -> None:
    policy = RedrivePolicy(delays_s=(1.0, 5.0))
    assert [policy.delay(n) for n in range(4)] == [1.0, 5.0, 5.0, 5.0]
    with pytest.raises(ValueError, match="unknown error classes"):
        RedrivePolicy(error_classes=frozenset({"everything"}))
    with pytest.raises(ValueError):
        RedrivePolicy(rate_per_s=0)
