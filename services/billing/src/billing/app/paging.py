"""Opaque page tokens and page-size defaults for list queries."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from billing.domain.errors import InvalidPageToken

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def page_size(requested: int) -> int:
    return DEFAULT_PAGE_SIZE if requested <= 0 else min(requested, MAX_PAGE_SIZE)


def encode(key: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode(token: str, size: int) -> list[str] | None:
    """The key encoded in `token` (None for an empty token); `size` items expected."""
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        raise InvalidPageToken("page token is not valid") from None
    if not isinstance(key, list) or len(key) != size or not all(isinstance(k, str) for k in key):
        raise InvalidPageToken("page token is not valid")
    return key


def time_key(token: str) -> tuple[datetime, str] | None:
    """A (create time, id) cursor for newest-first lists."""
    key = decode(token, 2)
    if key is None:
        return None
    try:
        return datetime.fromisoformat(key[0]), key[1]
    except ValueError:
        raise InvalidPageToken("page token is not valid") from None


def encode_time_key(when: datetime, resource_id: str) -> str:
    return encode([when.isoformat(), resource_id])
