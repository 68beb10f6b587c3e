"""What the handlers share: ids, secret hashing, fingerprints and page tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime

from identity.domain.errors import InvalidPageToken

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def sha256_hex(secret: str) -> str:
    """Hash of a high-entropy secret: a fast hash suffices, there is nothing to brute-force."""
    return hashlib.sha256(secret.encode()).hexdigest()


def fingerprint(payload: Mapping[str, object]) -> str:
    """Stable digest of a request's meaningful fields, to spot a reused request id."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def page_size(requested: int) -> int:
    if requested <= 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def encode_page_token(cursor: tuple[str, str] | None, scope: str) -> str:
    """Opaque token bound to a listing scope, so it cannot be replayed on another list."""
    if cursor is None:
        return ""
    raw = json.dumps({"a": list(cursor), "s": scope}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, scope: str) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        after = data["a"]
        if data["s"] != scope or len(after) != 2:
            raise ValueError("scope mismatch")
        # Checked here, so a tampered token is INVALID_ARGUMENT, never a database error.
        datetime.fromisoformat(after[0])
        return str(after[0]), str(uuid.UUID(after[1]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidPageToken() from exc
