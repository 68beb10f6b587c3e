"""Ed25519 signing keys: generation, PEM (de)serialization and public JWKs."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
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
