"""Failures that mean a dependency is down, not that the service is broken.

A database or broker that cannot be reached answers UNAVAILABLE with a RetryInfo hint: the
code standard retry policies (gRPC's, clients', the gateway's 503) retry, where INTERNAL
tells the caller to give up. Anything else unexpected stays INTERNAL.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import nats.errors
import nats.js.errors
import psycopg
import sqlalchemy.exc

DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
BROKER_UNAVAILABLE = "BROKER_UNAVAILABLE"
CACHE_UNAVAILABLE = "CACHE_UNAVAILABLE"

RETRY_DELAY = timedelta(seconds=1)
"""The hint: long enough for a pool to reconnect, short enough that a retry feels prompt."""

MESSAGES = {
    DATABASE_UNAVAILABLE: "the database is unavailable; retry later",
    BROKER_UNAVAILABLE: "the event broker is unavailable; retry later",
    CACHE_UNAVAILABLE: "a cache the service needs is unavailable; retry later",
}

# Connection refused, terminated or timed out, no connection free in the pool. Operational
# errors also cover the server cancelling a statement, a deadlock or a serialization
# failure: all transient, all worth a retry.
_DATABASE: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,  # the pool's: no connection within pool_timeout
    psycopg.OperationalError,
    psycopg.InterfaceError,
)

_BROKER: tuple[type[BaseException], ...] = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.UnexpectedEOF,
    nats.errors.OutboundBufferLimitError,
    nats.errors.FlushTimeoutError,
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.NoStreamResponseError,
)


def outage_reason(exc: BaseException) -> str | None:
    """The ErrorInfo reason when ``exc`` means a dependency cannot be reached, else None."""
    if isinstance(exc, _DATABASE) or getattr(exc, "connection_invalidated", False) is True:
        return DATABASE_UNAVAILABLE
    if isinstance(exc, _BROKER):
        return BROKER_UNAVAILABLE
    if _is_redis_connection_error(exc):
        return CACHE_UNAVAILABLE
    return None


def _is_redis_connection_error(exc: BaseException) -> bool:
    """Redis is not a runtime dependency: its errors count only if a service loaded it."""
    redis_errors = sys.modules.get("redis.exceptions")
    if redis_errors is None:
        return False
    return isinstance(exc, (redis_errors.ConnectionError, redis_errors.TimeoutError))
