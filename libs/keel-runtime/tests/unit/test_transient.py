"""Which failures the consumer waits out (a dependency away) and which count against an event."""

from __future__ import annotations

import grpc
import psycopg
import pytest
import sqlalchemy.exc
from psycopg import errors

from keel_runtime.events.transient import is_transient


def _rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="x")


def _wrapped(driver_error: Exception) -> sqlalchemy.exc.DBAPIError:
    """What SQLAlchemy raises for a driver error: the driver's error is ``orig`` and cause."""
    try:
        try:
            raise driver_error
        except Exception as exc:
            raise sqlalchemy.exc.DBAPIError.instance("SELECT 1", {}, exc, psycopg.Error) from exc
    except sqlalchemy.exc.DBAPIError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "exc",
    [
        _wrapped(psycopg.OperationalError("connection refused")),
        _wrapped(errors.AdminShutdown("terminating connection due to administrator command")),
        _wrapped(errors.CannotConnectNow("the database system is starting up")),
        _wrapped(errors.TooManyConnections("too many clients")),
        _wrapped(errors.SerializationFailure("could not serialize access")),
        _wrapped(errors.DeadlockDetected("deadlock detected")),
        psycopg.InterfaceError("the connection is closed"),
        sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        _rpc_error(grpc.StatusCode.UNAVAILABLE),
        _rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED),
    ],
    ids=repr,
)
def test_a_dependency_away_is_transient(exc: Exception) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        _wrapped(errors.UniqueViolation("duplicate key")),
        _wrapped(errors.InvalidColumnReference("no unique or exclusion constraint matching")),
        _wrapped(errors.QueryCanceled("canceling statement due to statement timeout")),
        _wrapped(errors.ProgramLimitExceeded("index row size exceeds maximum")),
        _rpc_error(grpc.StatusCode.INVALID_ARGUMENT),
        _rpc_error(grpc.StatusCode.FAILED_PRECONDITION),
        ValueError("bad payload"),
        KeyError("missing"),
    ],
    ids=repr,
)
def test_a_fault_of_the_event_or_the_code_is_not(exc: Exception) -> None:
    assert not is_transient(exc)


def test_a_bug_raised_while_handling_an_outage_is_not_transient() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError:
            raise ValueError("bug in the fallback") from None
    except ValueError as exc:
        assert not is_transient(exc)


def test_an_application_error_raised_from_an_outage_is_the_application_s_verdict() -> None:
    class EnrichmentFailed(Exception):
        pass

    class PeerAway(Exception):
        transient = True

    for wrapper, expected in ((EnrichmentFailed, False), (PeerAway, True)):
        try:
            try:
                raise ConnectionRefusedError(111, "Connection refused")
            except ConnectionRefusedError as exc:
                raise wrapper("provider unreachable") from exc
        except Exception as exc:
            assert is_transient(exc) is expected
