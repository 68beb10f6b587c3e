"""Access tokens: EdDSA JWTs signed with the current key; a JWKS of the current, next and
previous keys (see ``identity.adapters.crypto.keys.published``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from identity.adapters.crypto import keys
from identity.adapters.crypto.keys import SigningKey
from identity.app.ports import AccessClaims, Clock, KeyRotation
from identity.domain.errors import InvalidAccessToken

ALGORITHM = "EdDSA"
# Tolerated clock skew between identity and the services that check its tokens.
LEEWAY_SECONDS = 30
# How long a new key is published before it signs: above the gateway's JWKS cache (60 s)
# and identity's own key cache (30 s), so every verifier knows it before meeting a token.
PUBLISH_LEAD = timedelta(seconds=90)


class KeyStore(Protocol):
    async def load(self, retired_since: datetime) -> list[SigningKey]: ...

    async def ensure_active(self, make: Any) -> SigningKey: ...

    async def rotate(
        self, make: Any, now: datetime, lead: timedelta
    ) -> tuple[SigningKey, SigningKey | None]: ...


class JwtTokenService:
    """Implements the TokenService port. Keys are cached and re-read every ``cache_ttl``,
    so a rotation done by another replica is picked up without a restart."""

    def __init__(
        self,
        store: KeyStore,
        clock: Clock,
        *,
        issuer: str,
        audience: str,
        retired_key_lifetime: timedelta,
        passphrase: bytes | None = None,
        cache_ttl: timedelta = timedelta(seconds=30),
        publish_lead: timedelta = PUBLISH_LEAD,
    ) -> None:
        self._store = store
        self._clock = clock
        self._issuer = issuer
        self._audience = audience
        self._retired_key_lifetime = retired_key_lifetime
        self._passphrase = passphrase
        self._cache_ttl = cache_ttl.total_seconds()
        self._lead = publish_lead
        self._keys: list[SigningKey] = []
        self._loaded_at = float("-inf")
        self._private: dict[str, Ed25519PrivateKey] = {}

    def _make(self) -> SigningKey:
        return keys.generate(self._clock.now(), self._passphrase)

    async def start(self) -> None:
        """Make sure an active key exists (generated at first start) and load the key set."""
        await self._store.ensure_active(self._make)
        await self._reload()

    async def _reload(self) -> None:
        since = self._clock.now() - self._retired_key_lifetime
        self._keys = await self._store.load(since)
        self._loaded_at = time.monotonic()

    async def _current(self) -> list[SigningKey]:
        if time.monotonic() - self._loaded_at > self._cache_ttl:
            await self._reload()
        return self._keys

    async def _active(self) -> SigningKey:
        key = keys.signer_of(await self._current(), self._clock.now(), self._lead)
        if key is None:
            await self.start()
            key = keys.signer_of(self._keys, self._clock.now(), self._lead)
            assert key is not None  # start() made one
        return key

    async def _published(self) -> list[SigningKey]:
        return keys.published(
            await self._current(), self._clock.now(), self._lead, self._retired_key_lifetime
        )

    def _private_key(self, key: SigningKey) -> Ed25519PrivateKey:
        if key.kid not in self._private:
            self._private[key.kid] = keys.load_private(key, self._passphrase)
        return self._private[key.kid]

    async def sign(self, claims: AccessClaims) -> str:
        key = await self._active()
        payload = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": claims.subject,
            "org": claims.organization_id,
            "roles": list(claims.roles),
            "scope": " ".join(claims.scopes),
            "kind": claims.kind,
            "iat": int(claims.issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "jti": claims.token_id,
        }
        if claims.session_id:
            payload["sid"] = claims.session_id
        return jwt.encode(
            payload, self._private_key(key), algorithm=ALGORITHM, headers={"kid": key.kid}
        )

    async def _public_key(self, kid: str) -> SigningKey | None:
        for key in await self._published():
            if key.kid == kid:
                return key
        # Unknown kid: maybe another replica just rotated. Re-read once, then give up.
        await self._reload()
        return next((k for k in await self._published() if k.kid == kid), None)

    async def verify(self, token: str) -> AccessClaims:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = await self._public_key(kid) if isinstance(kid, str) else None
            if key is None:
                raise InvalidAccessToken("access token is signed with an unknown key")
            data = jwt.decode(
                token,
                keys.load_public(key),
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidAccessToken() from exc
        return AccessClaims(
            subject=str(data["sub"]),
            organization_id=str(data.get("org", "")),
            roles=tuple(data.get("roles", ())),
            scopes=tuple(str(data.get("scope", "")).split()),
            kind=str(data.get("kind", "user")),
            issued_at=datetime.fromtimestamp(data["iat"], UTC),
            expires_at=datetime.fromtimestamp(data["exp"], UTC),
            token_id=str(data["jti"]),
            session_id=str(data.get("sid", "")),
        )

    async def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk for key in await self._published()]}

    async def rotate(self) -> KeyRotation:
        now = self._clock.now()
        new, replaced = await self._store.rotate(self._make, now, self._lead)
        await self._reload()
        return KeyRotation(
            active_key_id=new.kid,
            retired_key_id=replaced.kid if replaced else None,
            # The replaced key signs until the new one is due, then its tokens expire.
            retired_key_unpublish_at=(
                now + self._lead + self._retired_key_lifetime if replaced else None
            ),
            active_from=now + self._lead,
        )
