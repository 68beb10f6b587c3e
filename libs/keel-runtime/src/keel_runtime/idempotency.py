"""Creates that must not double (AIP-155): one request id, one effect.

A create carrying a ``request_id`` stores it, with a fingerprint of the request's payload,
in the same transaction as its effect, under a unique key. A repeat finds that first use:

- the same payload gets the first result back (a retry whose answer was lost), however
  much the resource changed since;
- another payload is refused (the id was reused: a client bug that must not pass silently,
  nor overwrite anything).

Two repeats racing each other are settled by the unique key: the loser's insert is refused,
and it reads the winner's row. Where services keep the first use differs (a column on the
resource, or a table of answers); the rule and the fingerprint are these, in every service.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


def fingerprint(payload: Mapping[str, object]) -> str:
    """A stable digest of a request's meaningful fields (key order, whitespace and the
    request id itself do not count), to tell a repeat from a reuse of its request id."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(
    first: T, first_fingerprint: str, fingerprint: str, refuse: Callable[[T], Exception]
) -> T:
    """The first result of a request id, for a repeat of the same request.

    Raises ``refuse(first)`` when the id was first used with another payload (the error
    can name what the id already made).
    """
    if not hmac.compare_digest(first_fingerprint, fingerprint):
        raise refuse(first)
    return first


async def create_once(
    create: Callable[[], Awaitable[T | None]],
    first_use: Callable[[], Awaitable[tuple[T, str] | None]],
    fingerprint: str,
    refuse: Callable[[T], Exception],
) -> T:
    """Run a create that must not double, and settle a repeat by the rule above.

    ``create()`` commits the new result, or returns None when the request id is taken
    (its insert refused by the unique key: a repeat, perhaps a concurrent one that has
    just committed). ``first_use()`` then reads what the id made first, with the
    fingerprint stored beside it.
    """
    made = await create()
    if made is not None:
        return made
    found = await first_use()
    if found is None:
        # The key refused the insert, yet holds nothing: not a repeat, a defect.
        raise RuntimeError("a create was refused as a repeat but its first use is not stored")
    first, stored = found
    return replay(first, stored, fingerprint, refuse)
