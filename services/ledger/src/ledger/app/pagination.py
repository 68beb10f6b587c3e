"""Opaque page tokens over integer cursors."""

from __future__ import annotations

import base64
import json

from ledger.domain import errors

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def page_size(requested: int) -> int:
    return min(requested, MAX_PAGE_SIZE) if requested > 0 else DEFAULT_PAGE_SIZE


def encode(cursor: int, scope: str) -> str:
    """``scope`` binds the token to the query it came from, so it cannot page another one."""
    raw = json.dumps({"c": cursor, "s": scope}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, scope: str) -> int | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        cursor = data["c"]
        if data["s"] != scope or not isinstance(cursor, int):
            raise ValueError
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.InvalidPageToken("page_token is not valid for this query") from exc
    return cursor
