"""Access tokens as a service checks them: every forgery and every stale token refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import pytest

from keel_runtime import tokens
from keel_runtime.errors import DependencyUnavailable, Unauthenticated
from keel_runtime.interceptors.principal import identify
from keel_runtime.settings import TokenSettings
from keel_runtime.testing import TokenIssuer

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Keys:
    """A JWKS source that counts its fetches, publishes what it is told, and can fail."""

    def __init__(self, *issuers: TokenIssuer) -> None:
        self.published = list(issuers)
        self.fetches = 0
        self.down = False

    async def __call__(self) -> Mapping[str, Any]:
        self.fetches += 1
        if self.down:
            raise ConnectionError("identity is unreachable")
        return {"keys": [issuer.public_jwk() for issuer in self.published]}


class Denied:
    def __init__(self) -> None:
        self.sessions: set[str] = set()

    def refuses(self, *, subject: str, kind: str, session_id: str, issued_at: int) -> bool:
        return session_id in self.sessions


@pytest.fixture
def issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def verifier(keys: Keys, clock: Clock, **kw: Any) -> tokens.TokenVerifier:
    return tokens.TokenVerifier(keys, TokenSettings(), clock=clock, monotonic=clock, **kw)


def token(issuer: TokenIssuer, **overrides: Any) -> str:
    claims = {
        "iss": "keel-identity",
        "aud": "keel",
        "sub": "user-1",
        "org": "org-1",
        "roles": ["OWNER"],
        "scope": "ledger:read",
        "kind": "user",
        "iat": int(NOW),
        "exp": int(NOW) + 900,
        "jti": "t1",
        "sid": "session-1",
    }
    claims.update(overrides)
    return issuer.sign({k: v for k, v in claims.items() if v is not None})


async def refused(check: tokens.TokenVerifier, raw: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        await check.principal(raw)
    return caught.value.reason


async def test_a_valid_token_is_the_principal_it_names(issuer: TokenIssuer, clock: Clock) -> None:
    raw = token(issuer)
    principal = await verifier(Keys(issuer), clock).principal(raw)
    assert (principal.subject, principal.org_id, principal.kind) == ("user-1", "org-1", "user")
    assert principal.roles == {"OWNER"} and principal.scopes == {"ledger:read"}
    assert principal.credential == raw  # forwarded on calls made for this user
    assert raw not in repr(principal)  # and never printed


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "someone-else"},
        {"aud": "another-api"},
        {"aud": None},
        {"exp": None},
        {"iat": None},
        {"exp": "tomorrow"},
        {"iat": True},
        {"exp": float("nan")},
        {"exp": float("inf")},
        {"iat": float("-inf")},
        {"exp": 10**30},
        {"iat": int(NOW) + 3600, "exp": int(NOW) + 4000},  # issued an hour from now
        {"nbf": int(NOW) + 600},
        {"exp": int(NOW) + 2 * 86_400},  # longer than any token may live
        {"sub": ""},
        {"sub": None},
        {"kind": "service"},  # workloads prove themselves by certificate, never by token
        {"kind": "operator"},
        {"roles": "OWNER"},
        {"org": 7},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
async def test_claims_that_do_not_hold_are_refused(
    issuer: TokenIssuer, clock: Clock, overrides: dict[str, Any]
) -> None:
    assert await refused(verifier(Keys(issuer), clock), token(issuer, **overrides)) == (
        tokens.TOKEN_INVALID
    )


async def test_a_skew_within_the_leeway_is_tolerated(issuer: TokenIssuer, clock: Clock) -> None:
    raw = token(issuer, iat=int(NOW) + 20, exp=int(NOW) + 900)
    assert (await verifier(Keys(issuer), clock).principal(raw)).subject == "user-1"


async def test_a_token_signed_by_another_key_is_refused(issuer: TokenIssuer, clock: Clock) -> None:
    forger = TokenIssuer()
    forger.kid = issuer.kid  # claims the right key id, signs with its own key
    assert await refused(verifier(Keys(issuer), clock), token(forger)) == tokens.TOKEN_INVALID


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    return ".".join(
        [part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(signature)]
    )


async def test_alg_none_and_other_algorithms_are_refused(issuer: TokenIssuer, clock: Clock) -> None:
    claims = {"iss": "keel-identity", "aud": "keel", "sub": "u", "iat": NOW, "exp": NOW + 60}
    check = verifier(Keys(issuer), clock)
    for alg in ("none", "HS256", "RS256", "ES256"):
        forged = _unsigned({"alg": alg, "kid": issuer.kid}, claims, b"x" * 64)
        assert await refused(check, forged) == tokens.TOKEN_INVALID


@pytest.mark.parametrize(
    "raw", ["", "abc", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.e30", "W10.W10.AAAA"]
)
async def test_malformed_tokens_are_refused(issuer: TokenIssuer, clock: Clock, raw: str) -> None:
    assert await refused(verifier(Keys(issuer), clock), raw) == tokens.TOKEN_INVALID


async def test_a_tampered_payload_breaks_the_signature(issuer: TokenIssuer, clock: Clock) -> None:
    head, _, signature = token(issuer).split(".")
    richer = token(issuer, org="org-2", roles=["OWNER", "ADMIN"]).split(".")[1]
    assert await refused(verifier(Keys(issuer), clock), f"{head}.{richer}.{signature}") == (
        tokens.TOKEN_INVALID
    )


async def test_an_expired_token_is_refused_even_once_remembered(
    issuer: TokenIssuer, clock: Clock
) -> None:
    check = verifier(Keys(issuer), clock)
    raw = token(issuer)
    await check.principal(raw)
    clock.now = NOW + 900 + 31  # past exp and the 30 s leeway
    assert await refused(check, raw) == tokens.TOKEN_EXPIRED
    assert await refused(check, token(issuer, iat=int(NOW), exp=int(NOW) + 1)) == (
        tokens.TOKEN_EXPIRED
    )


async def test_a_revoked_session_is_refused_at_once(issuer: TokenIssuer, clock: Clock) -> None:
    denied = Denied()
    check = verifier(Keys(issuer), clock, revocations=denied)
    raw = token(issuer)
    await check.principal(raw)
    denied.sessions.add("session-1")
    assert await refused(check, raw) == tokens.TOKEN_REVOKED


async def test_keys_are_fetched_once_and_a_new_key_is_learnt(
    issuer: TokenIssuer, clock: Clock
) -> None:
    keys = Keys(issuer)
    check = verifier(keys, clock)
    await check.principal(token(issuer))
    await check.principal(token(issuer, jti="t2"))
    assert keys.fetches == 1
    rotated = TokenIssuer()
    keys.published.append(rotated)  # published before it signs, as identity does
    clock.now += 10
    assert (await check.principal(token(rotated))).subject == "user-1"
    assert keys.fetches == 2


async def test_made_up_key_ids_cost_identity_one_fetch_per_interval(
    issuer: TokenIssuer, clock: Clock
) -> None:
    keys = Keys(issuer)
    check = verifier(keys, clock)
    await check.principal(token(issuer))
    stranger = TokenIssuer()
    for _ in range(50):
        assert await refused(check, token(stranger)) == tokens.TOKEN_INVALID
    assert keys.fetches == 1  # keys were read just now: none re-read within the interval
    clock.now += TokenSettings().unknown_key_interval_seconds
    for _ in range(50):
        await refused(check, token(stranger))
    assert keys.fetches == 2  # one re-read per interval, however many made-up key ids


async def test_unreadable_keys_are_unavailable_not_unauthenticated(
    issuer: TokenIssuer, clock: Clock
) -> None:
    keys = Keys(issuer)
    keys.down = True
    with pytest.raises(DependencyUnavailable) as caught:
        await verifier(keys, clock).principal(token(issuer))
    assert caught.value.reason == tokens.KEYS_UNAVAILABLE


async def test_known_keys_keep_verifying_while_identity_is_down(
    issuer: TokenIssuer, clock: Clock
) -> None:
    keys = Keys(issuer)
    check = verifier(keys, clock)
    await check.principal(token(issuer))
    keys.down = True
    clock.now += TokenSettings().keys_refresh_seconds + 1  # time to re-read: it fails
    fresh = token(issuer, iat=int(clock.now), exp=int(clock.now) + 900)
    assert (await check.principal(fresh)).subject == "user-1"


async def test_an_unpublished_key_stops_verifying_after_a_refresh(
    issuer: TokenIssuer, clock: Clock
) -> None:
    keys = Keys(issuer)
    check = verifier(keys, clock)
    await check.principal(token(issuer))
    keys.published = [TokenIssuer()]
    clock.now += TokenSettings().keys_refresh_seconds + 1
    fresh = token(issuer, iat=int(clock.now), exp=int(clock.now) + 900)
    assert await refused(check, fresh) == tokens.TOKEN_INVALID


async def test_without_a_key_source_every_token_is_unavailable(
    issuer: TokenIssuer, clock: Clock
) -> None:
    with pytest.raises(DependencyUnavailable):
        await tokens.TokenVerifier(None, clock=clock).principal(token(issuer))


def test_bearer_token_is_read_from_the_authorization_header() -> None:
    assert tokens.bearer_token(None) is None
    assert tokens.bearer_token("Bearer abc") == "abc"
    assert tokens.bearer_token("bearer  abc ") == "abc"
    assert tokens.bearer_token("Basic dXNlcjpwYXNz") == ""  # present, unusable: refused


async def test_the_cache_of_verified_tokens_is_bounded(
    issuer: TokenIssuer, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "CACHE_SIZE", 3)
    check = verifier(Keys(issuer), clock)
    for n in range(10):
        await check.principal(token(issuer, jti=f"t{n}"))
    assert len(check._verified) == 3


async def test_a_token_that_breaks_the_verifier_is_refused_not_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(tokens.TokenVerifier):
        async def principal(self, token: str) -> Any:
            raise ValueError("a bug in verification")

    refused = await identify("a.b.c", None, "gateway", mtls=True, verifier=Broken(None))
    assert isinstance(refused, Unauthenticated) and refused.reason == tokens.TOKEN_INVALID
    assert "a.b.c" not in caplog.text
