"""Typed settings read once from the environment; errors name the variable and the problem."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import urlsplit

from keel_runtime.tls import TlsSettings

T = TypeVar("T")


class _Missing(Enum):
    MISSING = "MISSING"


MISSING: Final = _Missing.MISSING
"""Default for a required variable."""


class SettingsError(Exception):
    """One or more environment variables are missing or malformed."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


# While load() runs, problems are collected here so all of them are reported at once.
_collector: ContextVar[list[str] | None] = ContextVar("keel_settings_collector", default=None)


def _fail(name: str, problem: str, placeholder: T) -> T:
    message = f"{name}: {problem}"
    collected = _collector.get()
    if collected is None:
        raise SettingsError([message])
    collected.append(message)
    return placeholder


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None or value.strip() == "" else value.strip()


def env_str(name: str, default: str | _Missing = MISSING) -> str:
    value = _raw(name)
    if value is not None:
        return value
    if default is MISSING:
        return _fail(name, "required but not set", "")
    return default


def env_int(
    name: str,
    default: int | _Missing = MISSING,
    *,
    min: int | None = None,
    max: int | None = None,
) -> int:
    value = _raw(name)
    if value is None:
        if default is MISSING:
            return _fail(name, "required but not set", 0)
        return default
    try:
        number = int(value)
    except ValueError:
        return _fail(name, f"expected an integer, got {value!r}", 0)
    return _bounded(name, number, min, max)


def env_float(
    name: str,
    default: float | _Missing = MISSING,
    *,
    min: float | None = None,
    max: float | None = None,
) -> float:
    value = _raw(name)
    if value is None:
        if default is MISSING:
            return _fail(name, "required but not set", 0.0)
        return default
    try:
        number = float(value)
    except ValueError:
        return _fail(name, f"expected a number, got {value!r}", 0.0)
    if not math.isfinite(number):
        return _fail(name, f"expected a finite number, got {value!r}", 0.0)
    return _bounded(name, number, min, max)


_N = TypeVar("_N", int, float)


def _bounded(name: str, number: _N, low: _N | None, high: _N | None) -> _N:
    if low is not None and number < low:
        return _fail(name, f"must be >= {low}, got {number}", number)
    if high is not None and number > high:
        return _fail(name, f"must be <= {high}, got {number}", number)
    return number


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool | _Missing = MISSING) -> bool:
    value = _raw(name)
    if value is None:
        if default is MISSING:
            return _fail(name, "required but not set", False)
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    return _fail(name, f"expected true/false (1/0, yes/no, on/off), got {value!r}", False)


def env_choice(name: str, choices: tuple[str, ...], default: str | _Missing = MISSING) -> str:
    value = env_str(name, default)
    if value not in choices and not (value == "" and _collector.get() is not None):
        return _fail(name, f"expected one of {', '.join(choices)}, got {value!r}", value)
    return value


def env_url(name: str, default: str | _Missing = MISSING, *, schemes: tuple[str, ...]) -> str:
    """A URL whose scheme is one of ``schemes``; never echoes the value (it may hold a password)."""
    value = _raw(name)
    if value is None:
        if default is MISSING:
            return _fail(name, "required but not set", "")
        value = default
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return _fail(name, "expected a URL, got a malformed value", value)
    base_scheme = parts.scheme.split("+", 1)[0]
    if parts.scheme not in schemes and base_scheme not in schemes:
        got = repr(parts.scheme) if parts.scheme else "no scheme"
        return _fail(name, f"expected a {'/'.join(schemes)} URL, got {got}", value)
    if not parts.netloc and not parts.path:
        return _fail(name, "expected a URL with a host or path", value)
    return value


def env_hostport(name: str, default: str | _Missing = MISSING) -> str:
    """``host:port`` (``[v6]:port`` for IPv6); port 0..65535."""
    value = env_str(name, default)
    if value == "" and _collector.get() is not None:
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        return _fail(name, f"expected host:port, got {value!r}", value)
    return value


def load(read: Callable[[], T]) -> T:
    """Run ``read`` (e.g. ``Config.from_env``); report every bad variable in one SettingsError."""
    problems: list[str] = []
    with _collecting(problems):
        try:
            result = read()
        except Exception as exc:
            if problems:
                raise SettingsError(problems) from exc
            raise
    if problems:
        raise SettingsError(problems)
    return result


@contextmanager
def _collecting(problems: list[str]) -> Iterator[None]:
    token = _collector.set(problems)
    try:
        yield
    finally:
        _collector.reset(token)


DAY_SECONDS = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """How long each service database keeps settled events, and how often the runtime prunes."""

    outbox_seconds: float = 7 * DAY_SECONDS
    """Published outbox rows are kept this long: the replay horizon
    (``OUTBOX_RETENTION_SECONDS``). Unpublished rows are never pruned."""
    inbox_seconds: float = 14 * DAY_SECONDS
    """Inbox rows (events a consumer handled) are kept this long (``INBOX_RETENTION_SECONDS``).
    Keep it beyond every producer's replay horizon: an event replayed after its inbox row
    is gone would take effect again."""
    interval_seconds: float = 3600.0
    """Time between two prunings (``PRUNE_INTERVAL_SECONDS``)."""

    @classmethod
    def from_env(cls) -> RetentionSettings:
        return cls(
            outbox_seconds=env_float("OUTBOX_RETENTION_SECONDS", 7 * DAY_SECONDS, min=0.0),
            inbox_seconds=env_float("INBOX_RETENTION_SECONDS", 14 * DAY_SECONDS, min=0.0),
            interval_seconds=env_float("PRUNE_INTERVAL_SECONDS", 3600.0, min=0.01),
        )


@dataclass(frozen=True)
class TokenSettings:
    """How access tokens are checked; issuer and audience match identity's."""

    issuer: str = "keel-identity"
    """Required ``iss`` (``JWT_ISSUER``)."""
    audience: str = "keel"
    """Required ``aud`` (``JWT_AUDIENCE``)."""
    identity_target: str | None = None
    """Identity's gRPC ``host:port``, where the JWKS is read (``IDENTITY_TARGET``); identity
    itself, and tests, hand the server their own key source instead."""
    leeway_seconds: int = 30
    """Clock skew tolerated on ``exp``, ``nbf`` and ``iat`` (``JWT_LEEWAY_SECONDS``)."""
    max_lifetime_seconds: int = 3600
    """``exp - iat`` above this is refused, whoever signed it (``JWT_MAX_LIFETIME_SECONDS``)."""
    keys_refresh_seconds: float = 300.0
    """Known keys are re-read this often, so an unpublished key stops verifying."""
    unknown_key_interval_seconds: float = 5.0
    """At most one fetch per this interval for tokens naming a key not yet known: a flood of
    made-up key ids costs identity one call per interval, not one per request."""

    @classmethod
    def from_env(cls) -> TokenSettings:
        return cls(
            issuer=env_str("JWT_ISSUER", cls.issuer),
            audience=env_str("JWT_AUDIENCE", cls.audience),
            identity_target=env_hostport("IDENTITY_TARGET") if _raw("IDENTITY_TARGET") else None,
            leeway_seconds=env_int("JWT_LEEWAY_SECONDS", cls.leeway_seconds, min=0, max=300),
            max_lifetime_seconds=env_int(
                "JWT_MAX_LIFETIME_SECONDS", cls.max_lifetime_seconds, min=60, max=86_400
            ),
        )


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the gRPC server listens and stops."""

    bind: str
    """``host:port`` to listen on (``GRPC_BIND``, required)."""
    grace_seconds: float = 10.0
    """Time in-flight RPCs get to finish on shutdown (``GRPC_GRACE_SECONDS``)."""
    drain_seconds: float = 2.0
    """On SIGTERM, how long the server keeps taking calls while reporting NOT_SERVING, so
    clients and balancers move away first (``GRPC_DRAIN_SECONDS``)."""
    max_message_bytes: int = 4 * 1024 * 1024
    """Send and receive limit per message (``GRPC_MAX_MESSAGE_BYTES``)."""
    max_concurrent_rpcs: int = 256
    """Beyond this, new RPCs are refused with RESOURCE_EXHAUSTED (``GRPC_MAX_CONCURRENT_RPCS``)."""
    readiness_interval_seconds: float = 5.0
    """Readiness probe period and per-probe timeout (``GRPC_READINESS_INTERVAL_SECONDS``)."""
    metrics_bind: str | None = None
    """``host:port`` of the Prometheus ``/metrics`` endpoint (``METRICS_BIND``); unset = off."""
    retention: RetentionSettings = RetentionSettings()
    """Outbox and inbox pruning of the service's database."""
    tls: TlsSettings | None = None
    """Mutual TLS (``TLS_CERT_FILE``, ``TLS_KEY_FILE``, ``TLS_CA_FILE``); unset = plaintext,
    and then no caller has a workload identity (see ``keel_runtime.tls``)."""
    health_bind: str | None = None
    """``host:port`` of a plaintext listener serving grpc.health.v1 only (``HEALTH_BIND``),
    for probes that cannot present a certificate (kubelet); unset = off."""
    tokens: TokenSettings = TokenSettings()
    """How end users' access tokens are verified (``keel_runtime.tokens``)."""

    @classmethod
    def from_env(cls) -> ServerSettings:
        return cls(
            bind=env_hostport("GRPC_BIND"),
            grace_seconds=env_float("GRPC_GRACE_SECONDS", 10.0, min=0.0),
            drain_seconds=env_float("GRPC_DRAIN_SECONDS", 2.0, min=0.0),
            max_message_bytes=env_int("GRPC_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, min=1024),
            max_concurrent_rpcs=env_int("GRPC_MAX_CONCURRENT_RPCS", 256, min=1),
            readiness_interval_seconds=env_float("GRPC_READINESS_INTERVAL_SECONDS", 5.0, min=0.01),
            metrics_bind=env_hostport("METRICS_BIND") if _raw("METRICS_BIND") else None,
            retention=RetentionSettings.from_env(),
            tls=tls_from_env(),
            health_bind=env_hostport("HEALTH_BIND") if _raw("HEALTH_BIND") else None,
            tokens=TokenSettings.from_env(),
        )


TLS_VARIABLES = ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE")


def tls_from_env() -> TlsSettings | None:
    """All three TLS files, or None when none is set; one or two alone is an error."""
    given = {name: _raw(name) for name in TLS_VARIABLES}
    if not any(given.values()):
        return None
    paths: list[Path] = []
    for name, value in given.items():
        if value is None:
            paths.append(_fail(name, "required when any of TLS_* is set", Path()))
        elif not Path(value).is_file():
            paths.append(_fail(name, f"no such file: {value}", Path(value)))
        else:
            paths.append(Path(value))
    return TlsSettings(cert_file=paths[0], key_file=paths[1], ca_file=paths[2])
