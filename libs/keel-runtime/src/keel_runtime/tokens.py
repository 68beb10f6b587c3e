"""End-user credentials, verified by every service itself: identity's EdDSA access tokens.

The gateway checks a token too, but a service believes only what it verifies: the
signature against identity's published keys (JWKS), ``iss`` and ``aud`` pinned, ``exp``
and ``iat`` required, ``nbf``/``iat`` within a small skew, a maximum lifetime, and the local
deny set (``keel_runtime.revocation``) for sessions, keys and users revoked since the token
was signed. Internal calls on behalf of a user forward the same token; the calling
workload is proven separately by its certificate (``keel_runtime.interceptors.principal``).

Only Ed25519 keys and ``alg: EdDSA`` are accepted: the algorithm is fixed here, never read
from the token, so no "alg: none" or key-confusion token gets through. A token verified once
is remembered until it expires (a client sends the same token on every call), so the
signature check is paid once per token and the hot path is a dictionary lookup plus the
expiry and deny-set checks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from keel.identity.v1 import auth_service_pb2, auth_service_pb2_grpc

from keel_runtime.context import Principal
from keel_runtime.errors import DependencyUnavailable, Unauthenticated
from keel_runtime.settings import TokenSettings

logger = logging.getLogger("keel.auth")

BEARER = "bearer "
AUTHORIZATION_HEADER = "authorization"
ALGORITHM = "EdDSA"
TOKEN_KINDS = frozenset({"user", "api_key"})
"""What identity signs tokens for; workloads prove themselves by certificate, never by token."""

TOKEN_INVALID = "TOKEN_INVALID"
TOKEN_EXPIRED = "TOKEN_EXPIRED"
TOKEN_REVOKED = "TOKEN_REVOKED"
KEYS_UNAVAILABLE = "SIGNING_KEYS_UNAVAILABLE"

MAX_TIME = 1 << 40
"""Seconds since the epoch beyond any real token (year ~36,000): refused, not overflowed."""

CACHE_SIZE = 10_000
"""Verified tokens remembered; beyond it the oldest are forgotten (re-verified if seen)."""

JwksSource = Callable[[], Awaitable[Mapping[str, Any]]]
"""Returns identity's JWKS document, ``{"keys": [...]}``."""


class Revocations(Protocol):
    """The local deny set fed by identity's revocation events (``keel_runtime.revocation``)."""

    def refuses(self, *, subject: str, kind: str, session_id: str, issued_at: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    expires_at: int
    issued_at: int
    session_id: str


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``authorization: Bearer <token>`` value; None when absent."""
    if authorization is None:
        return None
    if authorization[:7].lower() != BEARER:
        return ""  # present but not a bearer token: refused as invalid, never ignored
    return authorization[7:].strip()


class TokenVerifier:
    """Turns an access token into the principal it proves, or refuses it."""

    def __init__(
        self,
        jwks: JwksSource | None,
        settings: TokenSettings | None = None,
        *,
        revocations: Revocations | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jwks = jwks
        self._settings = settings if settings is not None else TokenSettings()
        self.revocations = revocations
        self._clock = clock
        self._monotonic = monotonic
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._fetched_at = float("-inf")
        self._fetch_lock = asyncio.Lock()
        self._verified: dict[str, _Verified] = {}

    async def principal(self, token: str) -> Principal:
        """The principal ``token`` proves; raises Unauthenticated, or DependencyUnavailable
        when identity's keys are needed and cannot be read."""
        now = self._clock()
        known = self._verified.get(token)
        if known is None:
            known = await self._verify(token, now)
            if len(self._verified) >= CACHE_SIZE:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = known
        if now > known.expires_at + self._settings.leeway_seconds:
            raise Unauthenticated("the access token has expired", reason=TOKEN_EXPIRED)
        revocations = self.revocations
        if revocations is not None and revocations.refuses(
            subject=known.principal.subject,
            kind=known.principal.kind,
            session_id=known.session_id,
            issued_at=known.issued_at,
        ):
            raise Unauthenticated("the access token has been revoked", reason=TOKEN_REVOKED)
        return known.principal

    async def _verify(self, token: str, now: float) -> _Verified:
        parts = token.split(".")
        if len(parts) != 3:
            raise _invalid("an access token has three dot-separated parts")
        header = _json_part(parts[0], "header")
        if header.get("alg") != ALGORITHM:
            raise _invalid(f"access tokens are signed with {ALGORITHM}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid("the access token names no signing key")
        key = await self._key(kid)
        try:
            key.verify(_b64decode(parts[2]), f"{parts[0]}.{parts[1]}".encode())
        except (InvalidSignature, ValueError) as exc:
            raise _invalid("the access token's signature does not verify") from exc
        return self._claims(_json_part(parts[1], "payload"), now, token)

    def _claims(self, claims: dict[str, Any], now: float, token: str) -> _Verified:
        s = self._settings
        if claims.get("iss") != s.issuer:
            raise _invalid("the access token is from another issuer")
        audience = claims.get("aud")
        if audience != s.audience and not (isinstance(audience, list) and s.audience in audience):
            raise _invalid("the access token is for another audience")
        exp, iat = claims.get("exp"), claims.get("iat")
        nbf = claims.get("nbf", iat)
        if not (_is_time(exp) and _is_time(iat) and _is_time(nbf)):
            raise _invalid("the access token needs numeric exp and iat")
        if iat > now + s.leeway_seconds or nbf > now + s.leeway_seconds:
            raise _invalid("the access token is not valid yet")
        if exp - iat > s.max_lifetime_seconds:
            raise _invalid("the access token lives longer than allowed")
        if now > exp + s.leeway_seconds:
            raise Unauthenticated("the access token has expired", reason=TOKEN_EXPIRED)
        subject, kind, org = claims.get("sub"), claims.get("kind", "user"), claims.get("org", "")
        roles, scope, sid = claims.get("roles", []), claims.get("scope", ""), claims.get("sid", "")
        if not isinstance(subject, str) or not subject or kind not in TOKEN_KINDS:
            raise _invalid("the access token names no user or API key")
        if not isinstance(org, str) or not isinstance(scope, str) or not isinstance(sid, str):
            raise _invalid("the access token's org, scope and sid must be strings")
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise _invalid("the access token's roles must be a list of strings")
        principal = Principal(
            subject=subject,
            org_id=org,
            roles=frozenset(roles),
            scopes=frozenset(scope.split()),
            kind=kind,
            credential=token,
        )
        return _Verified(principal, int(exp), int(iat), sid)

    async def _key(self, kid: str) -> Ed25519PublicKey:
        stale = self._monotonic() - self._fetched_at > self._settings.keys_refresh_seconds
        key = None if stale else self._keys.get(kid)
        if key is not None:
            return key
        async with self._fetch_lock:
            key = self._keys.get(kid)
            since = self._monotonic() - self._fetched_at
            if (key is None and since >= self._settings.unknown_key_interval_seconds) or (
                since > self._settings.keys_refresh_seconds
            ):
                await self._fetch(known=key is not None)
                key = self._keys.get(kid)
        if key is None:
            raise _invalid("the access token is signed with an unknown key")
        return key

    async def _fetch(self, *, known: bool) -> None:
        if self._jwks is None:
            raise DependencyUnavailable(
                "this service has no source of signing keys", reason=KEYS_UNAVAILABLE
            )
        try:
            document = await self._jwks()
        except Exception as exc:
            self._fetched_at = self._monotonic()  # the rate limit holds for failures too
            logger.warning("signing keys could not be read", extra={"error": type(exc).__name__})
            if known:
                return  # keep verifying with the keys we have
            raise DependencyUnavailable(
                "identity's signing keys cannot be read; retry later", reason=KEYS_UNAVAILABLE
            ) from exc
        self._keys = public_keys(document)
        self._fetched_at = self._monotonic()


def identity_jwks(channel: Any, *, timeout: float = 2.0) -> JwksSource:
    """Identity's JWKS read over gRPC (``AuthService.GetJwks``) on ``channel``."""
    stub = auth_service_pb2_grpc.AuthServiceStub(channel)

    async def fetch() -> Mapping[str, Any]:
        reply = await stub.GetJwks(auth_service_pb2.GetJwksRequest(), timeout=timeout)
        document: Any = json.loads(reply.data)
        if not isinstance(document, dict):
            raise ValueError("the JWKS is not a JSON object")
        return document

    return fetch


def public_keys(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 signing keys of a JWKS document, by ``kid``; others are skipped."""
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in document.get("keys", []):
        if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        kid, x = jwk.get("kid"), jwk.get("x")
        if not isinstance(kid, str) or not isinstance(x, str):
            continue
        try:
            keys[kid] = Ed25519PublicKey.from_public_bytes(_b64decode(x))
        except ValueError:
            logger.warning("a published signing key is malformed", extra={"kid": kid})
    return keys


def _is_time(value: object) -> TypeGuard[float]:
    # JSON numbers only, and finite: Python's json reads NaN and Infinity, which compare
    # false with everything and would slip past every time check.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and abs(value) < MAX_TIME


def _b64decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _invalid("the access token is not base64url") from exc


def _json_part(part: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(part))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _invalid(f"the access token's {name} is not JSON") from exc
    if not isinstance(value, dict):
        raise _invalid(f"the access token's {name} is not a JSON object")
    return value


def _invalid(message: str) -> Unauthenticated:
    return Unauthenticated(message, reason=TOKEN_INVALID)
