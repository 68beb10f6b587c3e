"""Which failures are a dependency being away (retry, do not blame the event) and which are not."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import psycopg
import sqlalchemy.exc

# A peer service that is down, restarting or overloaded: its callers retry these too.
_TRANSIENT_GRPC = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})

# SQLSTATE classes and codes that say "the database cannot serve right now", not "this
# statement is wrong": connection exceptions, too many connections / out of resources, a
# server shutting down or starting, and conflicts that a retry resolves.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53")
_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05", "40001", "40P01"})


def _candidates(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, and for a SQLAlchemy wrapper the driver error it wraps.

    Nothing else it was raised from: an application error raised ``from`` a refused
    connection (e.g. a failed enrichment) is the application's verdict, with its own retry
    policy. An application error can declare itself transient with ``transient = True``.
    """
    yield exc
    orig = getattr(exc, "orig", None)
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and isinstance(orig, BaseException):
        yield orig


def _transient_one(exc: BaseException) -> bool:
    if getattr(exc, "transient", False) is True:
        return True
    if isinstance(exc, psycopg.Error):
        if not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return False
        state = exc.sqlstate
        # No SQLSTATE: the server never answered (refused, reset, closed, timed out).
        return (
            state is None
            or state.startswith(_TRANSIENT_SQLSTATE_CLASSES)
            or state in _TRANSIENT_SQLSTATES
        )
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        # Otherwise the driver error further down the chain decides.
        return bool(exc.connection_invalidated)
    if isinstance(exc, sqlalchemy.exc.TimeoutError):  # no pooled connection came free
        return True
    if isinstance(exc, grpc.aio.AioRpcError | grpc.RpcError):
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        return code in _TRANSIENT_GRPC
    # Refused, reset or aborted sockets, and timeouts waiting on a dependency.
    return isinstance(exc, ConnectionError | TimeoutError)


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or the driver error SQLAlchemy wraps) says a dependency is away.

    Such a failure says nothing about the event: the consumer retries it for as long as the
    dependency stays away, without counting it towards the event's dead-letter budget.
    """
    return any(_transient_one(e) for e in _candidates(exc))
