"""What the handlers share: secret hashing and page tokens."""

from __future__ import annotations

import hashlib

from keel_runtime import paging


def sha256_hex(secret: str) -> str:
    """Hash of a high-entropy secret: a fast hash suffices, there is nothing to brute-force."""
    return hashlib.sha256(secret.encode()).hexdigest()


def page_cursor(token: str, query: str) -> tuple[str, str] | None:
    """The (created_at, id) position a page token carries, as the repositories take it."""
    key = paging.decode_time_key(token, query)
    return None if key is None else (key[0].isoformat(), key[1])


def next_page_token(cursor: tuple[str, str] | None, query: str) -> str:
    return paging.encode(list(cursor), query) if cursor is not None else ""
