"""The deny set: access tokens that must be refused before they expire.

A signed access token stays valid until its ``exp``, whatever happens meanwhile. Four things
end it sooner: a logout or a revoked session (refresh-token reuse, a password change), a
deactivated user and a revoked API key. Identity writes each of them to the ``REVOCATIONS``
key-value bucket (``keel_runtime.events.revocation_bucket``); every service process watches
the bucket into a ``Revocations`` of its own (``keel_runtime.events.revocation_feed``), which
the token verifier asks about every token it accepts.

Keys in the bucket name what is revoked, values say when (epoch seconds, ASCII):

- ``session.<sid>``: every token of that session (the refresh-token family; JWT ``sid``);
- ``api_key.<id>``: every token exchanged for that key (JWT ``kind`` "api_key", ``sub`` = id);
- ``user.<id>``: every user token (``sub`` = id) issued at or before that second.

An entry matters only while a token it refuses can still be valid: for the longest access-token
lifetime plus the verifiers' clock skew after the revocation. After that it is forgotten (the
bucket's ``max_age`` is the same horizon), so memory is bounded by the revocations of that window.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Final

BUCKET: Final = "REVOCATIONS"

SESSION: Final = "session"
API_KEY: Final = "api_key"
USER: Final = "user"
KINDS: Final = (SESSION, API_KEY, USER)

DEFAULT_TOKEN_LIFETIME_S: Final = 900.0
"""Identity's default access-token lifetime (``ACCESS_TOKEN_TTL_SECONDS``)."""
DEFAULT_SKEW_S: Final = 60.0
"""Clock skew verifiers tolerate on ``exp`` (the gateway's jwt_authn allows 60 s)."""

# What a key-value key may hold after its kind (NATS KV keys: letters, digits, - _ = / .).
_ID = re.compile(r"[-_=/A-Za-z0-9]+")


def bucket_key(kind: str, identifier: str) -> str:
    """The bucket key of a revocation: ``<kind>.<id>``; ValueError for anything else."""
    if kind not in KINDS:
        raise ValueError(f"unknown revocation kind {kind!r}")
    if not _ID.fullmatch(identifier):
        raise ValueError(f"not a revocable id: {identifier!r}")
    return f"{kind}.{identifier}"


def parse_key(key: str) -> tuple[str, str] | None:
    """(kind, id) of a bucket key; None for a key this version does not know."""
    kind, dot, identifier = key.partition(".")
    if not dot or kind not in KINDS or not _ID.fullmatch(identifier):
        return None
    return kind, identifier


def encode_value(revoked_at: int) -> bytes:
    return str(int(revoked_at)).encode()


def decode_value(value: bytes | None) -> int | None:
    """The revoked-at second of a bucket value; None when it is not one."""
    try:
        number = int((value or b"").decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return number if number >= 0 else None


class Revocations:
    """The local deny set of one service process.

    ``refuses`` is the hot path, asked for every verified token: at most three dict lookups,
    nothing allocated, no clock read. An entry past its horizon can only match tokens that
    have expired already (the verifier refuses those itself), so stale entries cost memory,
    never correctness; ``revoke`` drops them every ``prune_every_s``.

    Mutated from one asyncio loop only (the feed); the lookups are single dict operations,
    which other threads may run concurrently under the GIL.
    """

    __slots__ = (
        "_api_keys",
        "_clock",
        "_horizon_s",
        "_last_prune",
        "_prune_every_s",
        "_sessions",
        "_users",
        "synced",
    )

    def __init__(
        self,
        *,
        max_token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S,
        skew_s: float = DEFAULT_SKEW_S,
        prune_every_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_token_lifetime_s <= 0 or skew_s < 0:
            raise ValueError("max_token_lifetime_s must be > 0 and skew_s >= 0")
        self._sessions: dict[str, int] = {}
        self._api_keys: dict[str, int] = {}
        self._users: dict[str, int] = {}
        self._horizon_s = float(max_token_lifetime_s + skew_s)
        self._prune_every_s = prune_every_s
        self._clock = clock
        self._last_prune = clock()
        self.synced = False
        """True once the feed has loaded everything the bucket held (see RevocationFeed)."""

    def refuses(self, *, subject: str, kind: str, session_id: str, issued_at: int) -> bool:
        """Whether a token with these claims (``sub``, ``kind``, ``sid``, ``iat``) is revoked."""
        if kind == API_KEY:
            return subject in self._api_keys
        if session_id and session_id in self._sessions:
            return True
        revoked_at = self._users.get(subject)
        return revoked_at is not None and issued_at <= revoked_at

    @property
    def horizon_s(self) -> float:
        """How long after its revocation an entry is kept: token lifetime plus skew."""
        return self._horizon_s

    def widen_horizon(self, horizon_s: float) -> None:
        """Keep entries at least ``horizon_s`` (the bucket's max_age, set by the issuer)."""
        self._horizon_s = max(self._horizon_s, float(horizon_s))

    def revoke(self, kind: str, identifier: str, revoked_at: int) -> bool:
        """Record a revocation; False when it is past the horizon or known already.

        A later revocation of the same thing replaces an earlier one (a user deactivated
        again after a reactivation refuses the tokens issued in between too).
        """
        now = self._clock()
        self._maybe_prune(now)
        if revoked_at + self._horizon_s <= now:
            return False
        entries = self._entries(kind)
        known = entries.get(identifier)
        if known is not None and known >= revoked_at:
            return False
        entries[identifier] = int(revoked_at)
        return True

    def prune(self) -> int:
        """Forget entries past the horizon; how many were dropped."""
        now = self._clock()
        self._last_prune = now
        oldest_kept = now - self._horizon_s
        dropped = 0
        for entries in (self._sessions, self._api_keys, self._users):
            expired = [key for key, at in entries.items() if at <= oldest_kept]
            for key in expired:
                del entries[key]
            dropped += len(expired)
        return dropped

    def _maybe_prune(self, now: float) -> None:
        if now - self._last_prune >= self._prune_every_s:
            self.prune()

    def _entries(self, kind: str) -> dict[str, int]:
        if kind == SESSION:
            return self._sessions
        if kind == API_KEY:
            return self._api_keys
        if kind == USER:
            return self._users
        raise ValueError(f"unknown revocation kind {kind!r}")

    def __len__(self) -> int:
        return len(self._sessions) + len(self._api_keys) + len(self._users)

    def entries(self) -> Iterator[tuple[str, str, int]]:
        """(kind, id, revoked_at) of every entry, for operators and tests."""
        for kind in KINDS:
            for identifier, at in list(self._entries(kind).items()):
                yield kind, identifier, at
