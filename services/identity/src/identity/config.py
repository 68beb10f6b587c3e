"""Typed identity settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from identity.adapters.crypto.passwords import Argon2Params
from identity.adapters.throttle import ThrottlePolicy
from identity.transport.client_address import DEFAULT_TRUSTED_PROXIES, parse_networks
from keel_runtime.service import ServiceConfig
from keel_runtime.settings import SettingsError, env_int, env_str, env_url


def _optional_url(name: str, schemes: tuple[str, ...]) -> str | None:
    if not os.environ.get(name, "").strip():
        return None
    return str(env_url(name, schemes=schemes))


def _throttle_policy() -> ThrottlePolicy:
    d = ThrottlePolicy()
    return ThrottlePolicy(
        free_failures=env_int("LOGIN_FREE_FAILURES", d.free_failures, min=1),
        first_delay_seconds=env_int("LOGIN_FIRST_DELAY_SECONDS", d.first_delay_seconds, min=1),
        max_delay_seconds=env_int("LOGIN_MAX_DELAY_SECONDS", d.max_delay_seconds, min=1),
        account_limit=env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", d.account_limit, min=1),
        address_limit=env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", d.address_limit, min=1),
        window_seconds=env_int("LOGIN_FAILURE_WINDOW_SECONDS", d.window_seconds, min=1),
    )


def _trusted_proxies() -> tuple[str, ...]:
    raw = env_str("TRUSTED_PROXIES", ",".join(DEFAULT_TRUSTED_PROXIES))
    values = tuple(v.strip() for v in raw.split(",") if v.strip())
    try:
        parse_networks(values)
    except ValueError as bad:
        raise SettingsError([f"TRUSTED_PROXIES: {bad}"]) from None
    return values


@dataclass(frozen=True, kw_only=True)
class IdentityConfig(ServiceConfig):
    """Without ``nats_url`` events stay in the outbox (identity serves sign-in without them)."""

    redis_url: str | None = None
    """Redis for login throttling (``REDIS_URL``); without it logins are not throttled."""
    jwt_issuer: str = "keel-identity"
    """``iss`` of access tokens (``JWT_ISSUER``)."""
    jwt_audience: str = "keel"
    """``aud`` of access tokens (``JWT_AUDIENCE``)."""
    access_token_ttl_seconds: int = 900
    """Access token lifetime (``ACCESS_TOKEN_TTL_SECONDS``)."""
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    """Refresh token lifetime, renewed on each rotation (``REFRESH_TOKEN_TTL_SECONDS``)."""
    refresh_grace_seconds: int = 10
    """Window in which a spent refresh token is a lost response, not theft."""
    signing_key_passphrase: str | None = None
    """Encrypts private signing keys at rest (``SIGNING_KEY_PASSPHRASE``)."""
    signing_key_publish_lead_seconds: int = 90
    """How long a rotated-in key is in the JWKS before it signs
    (``SIGNING_KEY_PUBLISH_LEAD_SECONDS``): longer than any verifier caches the JWKS
    (the gateway: 60 s)."""
    argon2: Argon2Params = field(default_factory=Argon2Params)
    """``ARGON2_TIME_COST``, ``ARGON2_MEMORY_KIB``, ``ARGON2_PARALLELISM``."""
    login_throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    """``LOGIN_FREE_FAILURES``, ``LOGIN_FIRST_DELAY_SECONDS``, ``LOGIN_MAX_DELAY_SECONDS``,
    ``LOGIN_MAX_FAILURES_PER_ACCOUNT``, ``LOGIN_MAX_FAILURES_PER_ADDRESS``,
    ``LOGIN_FAILURE_WINDOW_SECONDS`` (see the README, "Login")."""
    trusted_proxies: tuple[str, ...] = DEFAULT_TRUSTED_PROXIES
    """Peers (addresses or networks, ``TRUSTED_PROXIES``, comma-separated) whose
    ``x-envoy-external-address`` / ``x-forwarded-for`` name the client: the gateway."""

    @classmethod
    def from_env(cls) -> IdentityConfig:
        default = Argon2Params()
        return cls.read_env(
            nats_required=False,
            redis_url=_optional_url("REDIS_URL", ("redis", "rediss", "unix")),
            jwt_issuer=env_str("JWT_ISSUER", "keel-identity"),
            jwt_audience=env_str("JWT_AUDIENCE", "keel"),
            # Every service refuses a token living longer than an hour (TokenSettings).
            access_token_ttl_seconds=env_int("ACCESS_TOKEN_TTL_SECONDS", 900, min=30, max=3600),
            refresh_token_ttl_seconds=env_int("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600, min=60),
            refresh_grace_seconds=env_int("REFRESH_GRACE_SECONDS", 10, min=0, max=300),
            signing_key_passphrase=env_str("SIGNING_KEY_PASSPHRASE", "") or None,
            signing_key_publish_lead_seconds=env_int(
                "SIGNING_KEY_PUBLISH_LEAD_SECONDS", 90, min=0, max=86400
            ),
            argon2=Argon2Params(
                time_cost=env_int("ARGON2_TIME_COST", default.time_cost, min=1),
                memory_cost_kib=env_int("ARGON2_MEMORY_KIB", default.memory_cost_kib, min=8),
                parallelism=env_int("ARGON2_PARALLELISM", default.parallelism, min=1),
            ),
            login_throttle=_throttle_policy(),
            trusted_proxies=_trusted_proxies(),
        )
