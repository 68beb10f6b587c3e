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


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it was explicitly raised from (SQLAlchemy keeps the driver error there).

    The implicit ``__context__`` is not followed: a bug raised while handling a refused
    connection is still a bug.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        if isinstance(orig, BaseException) and id(orig) not in seen:
            yield orig
            seen.add(id(orig))
        current = current.__cause__


def _transient_one(exc: BaseException) -> bool:
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
    """True when ``exc`` (or what it was raised from) says a dependency is unavailable.

    Such a failure says nothing about the event: the consumer retries it for as long as the
    dependency stays away, without counting it towards the event's dead-letter budget.
    """
    return any(_transient_one(e) for e in _chain(exc))
