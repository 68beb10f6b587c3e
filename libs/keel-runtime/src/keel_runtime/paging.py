"""One page token for every list: an opaque cursor bound to the query that made it (AIP-158).

A token carries the position after the last row of a page (a keyset cursor, e.g. create
time and id) and a digest of the query's filters. Presented with other filters, or edited,
or truncated, it is refused as INVALID_ARGUMENT naming ``page_token``: never a database
error, never a page of another query. It is not a secret: the caller can only ask for rows
it may read anyway, which every query filters by organization (and row-level security).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from keel_runtime.errors import FieldViolation, ValidationFailed

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
"""At most this many rows a page, whatever is asked (the contracts may bound it lower)."""

Cursor = Sequence[str | int]


class InvalidPageToken(ValidationFailed):
    """A page token that is malformed or belongs to another query."""

    reason = "INVALID_PAGE_TOKEN"

    def __init__(self, description: str = "is not a page token of this query") -> None:
        super().__init__([FieldViolation("page_token", description)])


def page_size(requested: int) -> int:
    """The page size to use: DEFAULT_PAGE_SIZE for 0 (or less), at most MAX_PAGE_SIZE."""
    return DEFAULT_PAGE_SIZE if requested <= 0 else min(requested, MAX_PAGE_SIZE)


def query_digest(*filters: object) -> str:
    """What binds a token to its query: a digest of the list's name and filters, in order."""
    canonical = json.dumps(filters, separators=(",", ":"), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode(cursor: Cursor, query: str) -> str:
    """The token for the page after ``cursor`` of the query whose digest is ``query``."""
    raw = json.dumps({"c": list(cursor), "q": query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, query: str, shape: Sequence[type]) -> list[Any] | None:
    """The cursor in ``token`` (None for the first page, an empty token).

    ``shape`` is the type of each cursor part (``str`` or ``int``), checked here so that a
    tampered token fails as INVALID_ARGUMENT before it reaches a query.
    """
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        cursor, bound_to = data["c"], data["q"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidPageToken("is not a page token") from None
    if bound_to != query:
        raise InvalidPageToken("belongs to another query (other filters or another list)")
    if not isinstance(cursor, list) or len(cursor) != len(shape):
        raise InvalidPageToken("is not a page token")
    for part, kind in zip(cursor, shape, strict=True):
        # bool is an int to Python; JSON true is no cursor of ours.
        if not isinstance(part, kind) or isinstance(part, bool):
            raise InvalidPageToken("is not a page token")
    return cursor


def decode_int(token: str, query: str) -> int | None:
    """The integer cursor (e.g. a sequence number) of ``token``; None for the first page."""
    cursor = decode(token, query, (int,))
    return None if cursor is None else int(cursor[0])


def encode_time_key(when: datetime, row_id: str, query: str) -> str:
    """The token after a row of a list ordered by (create time, id)."""
    return encode([when.isoformat(), row_id], query)


def decode_time_key(token: str, query: str) -> tuple[datetime, str] | None:
    """The (create time, id) cursor of ``token``; None for the first page. The id is a UUID
    (``keel_runtime.ids``), checked here so an edited one never reaches a uuid column."""
    cursor = decode(token, query, (str, str))
    if cursor is None:
        return None
    try:
        return datetime.fromisoformat(cursor[0]), str(uuid.UUID(cursor[1]))
    except ValueError:
        raise InvalidPageToken("is not a page token") from None
