"""Opaque page tokens: a cursor bound to the query that produced it (AIP-158)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from items.domain.errors import InvalidPageToken


def query_fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def encode(fingerprint: str, cursor: dict[str, Any]) -> str:
    raw = json.dumps({"q": fingerprint, "c": cursor}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, fingerprint: str) -> dict[str, Any]:
    """The cursor; InvalidPageToken if the token is malformed or from another query."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        cursor = data["c"]
        matches = data["q"] == fingerprint
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidPageToken("page_token is not valid") from exc
    if not matches or not isinstance(cursor, dict):
        raise InvalidPageToken("page_token belongs to a different query")
    return cursor
