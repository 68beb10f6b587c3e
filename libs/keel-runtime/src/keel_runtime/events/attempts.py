"""Failed attempts per delivered event, kept where a crashed consumer cannot lose them.

JetStream counts deliveries, not attempts: the rest of a batch fetched by a process that then
died is redelivered with a higher count although its handler never ran. So the consumer keeps
its own count of attempts that started and did not succeed, in a JetStream key-value bucket:
an attempt is recorded as failed *before* its handler runs, so a process that dies inside the
handler leaves the failure behind for the next delivery to see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KeyValue

from keel_runtime.events.failures import HANDLER

BUCKET = "KEEL_CONSUMER_ATTEMPTS"
RETENTION_S = 7 * 24 * 3600.0
"""Entries of events nobody settled (e.g. a deleted consumer) expire after this long."""


@dataclass(frozen=True)
class Attempts:
    failed: int
    """Attempts that started and did not succeed (handler error or process death)."""
    last_error: str
    """Why the last of them failed, as far as it is known."""
    error_class: str = HANDLER
    """What kind of failure that was (``keel_runtime.events.failures``)."""


class AttemptLog:
    """Failed attempts by (consumer, stream, stream sequence)."""

    def __init__(self, js: JetStreamContext, *, replicas: int = 1) -> None:
        self._js = js
        self._replicas = replicas
        self._kv: KeyValue | None = None

    async def ensure(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self._js.key_value(BUCKET)
            except BucketNotFoundError:
                self._kv = await self._js.create_key_value(
                    KeyValueConfig(
                        bucket=BUCKET, history=1, ttl=RETENTION_S, replicas=self._replicas
                    )
                )
        return self._kv

    @staticmethod
    def _key(consumer: str, stream: str, seq: int) -> str:
        return f"{consumer}.{stream}.{seq}"

    async def get(self, consumer: str, stream: str, seq: int) -> Attempts | None:
        kv = await self.ensure()
        try:
            entry = await kv.get(self._key(consumer, stream, seq))
        except KeyNotFoundError:
            return None
        data = json.loads(entry.value or b"{}")
        return Attempts(
            failed=int(data["failed"]),
            last_error=str(data.get("last_error", "")),
            error_class=str(data.get("error_class", HANDLER)),
        )

    async def record(self, consumer: str, stream: str, seq: int, attempts: Attempts) -> None:
        kv = await self.ensure()
        value = {
            "failed": attempts.failed,
            "last_error": attempts.last_error,
            "error_class": attempts.error_class,
        }
        await kv.put(self._key(consumer, stream, seq), json.dumps(value).encode())

    async def clear(self, consumer: str, stream: str, seq: int) -> None:
        kv = await self.ensure()
        await kv.purge(self._key(consumer, stream, seq))
