"""Ed25519 signing keys: generation, PEM (de)serialization and public JWKs."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key_pem: str
    public_jwk: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None = None


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, Any]:
    """OKP JWK (RFC 8037) whose kid is its RFC 7638 thumbprint."""
    x = b64url(
        public_key.public_bytes(
            encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
        )
    )
    required = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    kid = b64url(hashlib.sha256(required.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}


def generate(now: datetime, passphrase: bytes | None = None) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = private.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=encryption,
    ).decode()
    jwk = public_jwk(private.public_key())
    return SigningKey(kid=jwk["kid"], private_key_pem=pem, public_jwk=jwk, created_at=now)


def load_private(key: SigningKey, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    loaded = serialization.load_pem_private_key(
        key.private_key_pem.encode(), password=passphrase or None
    )
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"signing key {key.kid} is not an Ed25519 key")
    return loaded


def load_public(key: SigningKey) -> Ed25519PublicKey:
    raw = base64.urlsafe_b64decode(key.public_jwk["x"] + "==")
    return Ed25519PublicKey.from_public_bytes(raw)


# -- which keys sign and which are published ----------------------------------------------
# A rotation publishes the next key at once, and it signs only ``lead`` later: by then the
# gateway and every replica have refetched the JWKS, so no verifier meets a token signed
# with a key it has not seen. The JWKS holds at most three keys: the current one, the next
# one and the previous one (while its tokens may still be valid).


def signer_of(keys: Iterable[SigningKey], now: datetime, lead: timedelta) -> SigningKey | None:
    """The key that signs at ``now``: the newest live key published at least ``lead`` ago;
    before any is (a first start, nothing cached anywhere yet) the oldest live key."""
    live = sorted((k for k in keys if k.retired_at is None), key=lambda k: k.created_at)
    due = [k for k in live if k.created_at <= now - lead]
    if due:
        return due[-1]
    return live[0] if live else None


def published(
    keys: Iterable[SigningKey], now: datetime, lead: timedelta, lifetime: timedelta
) -> list[SigningKey]:
    """The keys verifiers must know at ``now``, newest first: the current and next keys, and
    the previous one until the tokens it signed (for at most ``lifetime``) have expired.

    A key retired less than ``lead`` after its publication never signed anything (a later
    rotation replaced it before it was due) and is not published again.
    """
    keys = list(keys)
    current = signer_of(keys, now, lead)
    if current is None:
        return []
    # The previous key stopped signing when the current one became due.
    previous_until = current.created_at + lead + lifetime
    chosen = [
        k
        for k in keys
        if k.retired_at is None and (k.created_at >= current.created_at or now < previous_until)
    ]
    signed_and_retired = [
        k
        for k in keys
        if k.retired_at is not None
        and k.retired_at - k.created_at >= lead
        and now < k.retired_at + lifetime
    ]
    if signed_and_retired and not any(k.created_at < current.created_at for k in chosen):
        chosen.append(max(signed_and_retired, key=lambda k: k.retired_at or now))
    return sorted(chosen, key=lambda k: k.created_at, reverse=True)
