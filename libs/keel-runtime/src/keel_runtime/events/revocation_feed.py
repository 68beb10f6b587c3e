"""Keeps one process's deny set in step with the ``REVOCATIONS`` bucket.

The feed watches the bucket: the watch first replays every entry the bucket holds (so a
process started after a logout still refuses that session's tokens), then follows new ones as
identity writes them, within a second or so. The server starts it before its first readiness
check and runs it with the service (``ServiceSpec.revocations``).

Readiness waits for that first replay, but not forever: a process that could not load the deny
set within ``sync_grace_s`` reports ready anyway (refusing all traffic because NATS misbehaves
would make revocation an outage) and says so in an ERROR log line, while it keeps trying. No
bucket at all counts as loaded: nothing was ever revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from keel_runtime.events.revocation_bucket import stream_name
from keel_runtime.revocation import BUCKET, Revocations, decode_value, parse_key

log = logging.getLogger(__name__)

RETRY_S: tuple[float, ...] = (0.5, 1, 2, 5, 10)
"""Pauses between attempts to watch the bucket (the last one repeats)."""


class RevocationFeed:
    """Watches the bucket into ``deny_set``; ``run`` until cancelled, ``ready`` for readiness."""

    def __init__(
        self,
        js: JetStreamContext,
        deny_set: Revocations | None = None,
        *,
        bucket: str = BUCKET,
        sync_grace_s: float = 10.0,
        retry_s: Sequence[float] = RETRY_S,
        ready_wait_s: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.js = js
        self.deny_set = deny_set if deny_set is not None else Revocations()
        """What the token verifier consults."""
        self.bucket = bucket
        self.sync_grace_s = sync_grace_s
        self._retry_s = tuple(retry_s) or RETRY_S
        self.ready_wait_s = ready_wait_s
        """How long one readiness probe waits for the first load (readiness polls again)."""
        self._monotonic = monotonic
        self._started: float | None = None
        self._loaded = asyncio.Event()
        self._changed = asyncio.Event()
        self._gave_up_waiting = False

    @property
    def synced(self) -> bool:
        """True once the bucket's entries (or its absence) have been loaded."""
        return self._loaded.is_set()

    async def wait_synced(self, within_s: float) -> None:
        """Return once synced; TimeoutError after ``within_s``."""
        async with asyncio.timeout(within_s):
            await self._loaded.wait()

    async def wait_until(self, condition: Callable[[Revocations], bool], within_s: float) -> None:
        """Return once ``condition(deny_set)`` holds, checked after every change the feed makes;
        TimeoutError after ``within_s`` (for tests and tools that await a revocation)."""
        async with asyncio.timeout(within_s):
            while not condition(self.deny_set):
                await self._changed.wait()

    def _announce_change(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def run(self) -> None:
        """Watch the bucket until cancelled; a broken watch starts over (replaying is harmless)."""
        self._started = self._monotonic()
        failures = 0
        while True:
            try:
                kv = await self._bucket()
                if kv is None:
                    self._mark_loaded("no revocation bucket yet: nothing is revoked")
                else:
                    failures = 0
                    await self._follow(kv)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning(
                    "revocations: cannot watch bucket %s (attempt %d): %r%s",
                    self.bucket,
                    failures,
                    exc,
                    "" if self.synced else "; tokens revoked earlier are not refused yet",
                )
            # No bucket yet (failures == 0) is looked for again at the shortest pause.
            await asyncio.sleep(self._retry_s[min(max(failures, 1), len(self._retry_s)) - 1])

    async def ready(self) -> bool:
        """Readiness probe: loaded, or the grace since start is over (logged once)."""
        if self._loaded.is_set():
            return True
        started = self._started if self._started is not None else self._monotonic()
        remaining = self.sync_grace_s - (self._monotonic() - started)
        if remaining <= 0:
            if not self._gave_up_waiting:
                self._gave_up_waiting = True
                log.error(
                    "revocations: deny set not loaded after %.0fs; serving without it, so "
                    "tokens revoked earlier are accepted until they expire (still trying)",
                    self.sync_grace_s,
                )
            return True
        try:
            await self.wait_synced(min(remaining, self.ready_wait_s))
        except TimeoutError:
            return False
        return True

    async def _bucket(self) -> KeyValue | None:
        try:
            kv = await self.js.key_value(self.bucket)
        except BucketNotFoundError:
            return None
        # The producer sets max_age to its token lifetime plus skew: keep entries that long.
        info = await self.js.stream_info(stream_name(self.bucket))
        if info.config.max_age:
            self.deny_set.widen_horizon(info.config.max_age)
        return kv

    async def _follow(self, kv: KeyValue) -> None:
        watcher = await kv.watchall(ignore_deletes=True)
        try:
            async for entry in watcher:
                if entry is None:  # everything the bucket held has been replayed
                    self._mark_loaded(f"{len(self.deny_set)} entries")
                    continue
                # Deletes never lift a revocation: entries leave by age alone.
                if entry.operation in (KV_DEL, KV_PURGE):
                    continue
                parsed = parse_key(entry.key)
                revoked_at = decode_value(entry.value)
                if parsed is None or revoked_at is None:
                    log.warning("revocations: ignoring unknown entry %r", entry.key)
                    continue
                if self.deny_set.revoke(parsed[0], parsed[1], revoked_at):
                    self._announce_change()
        finally:
            with contextlib.suppress(Exception):  # the connection may be closing already
                await watcher.stop()

    def _mark_loaded(self, what: str) -> None:
        if self._loaded.is_set():
            return
        self._loaded.set()
        self.deny_set.synced = True
        self._announce_change()
        started = self._started if self._started is not None else self._monotonic()
        log.info(
            "revocations: deny set loaded from %s in %.2fs (%s)",
            self.bucket,
            self._monotonic() - started,
            what,
        )
