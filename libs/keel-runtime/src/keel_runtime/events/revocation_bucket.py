"""The ``REVOCATIONS`` key-value bucket: declared and written by identity, read by every service.

Identity turns its revocation events (consumed from its own stream, so they left through the
outbox) into entries here; each service process watches the bucket into its deny set
(``keel_runtime.revocation``). A bucket rather than the event stream itself: a watcher
replays only the entries still within the horizon (one per revoked thing, however many events
said so) instead of scanning events, and the services get read rights on revocations alone,
not on identity's other events (emails, names).

Entries expire with the bucket's ``max_age``: the longest access-token lifetime plus skew,
after which no token they refuse can still be valid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import (
    BadRequestError,
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

from keel_runtime.revocation import BUCKET, bucket_key, decode_value, encode_value, parse_key

log = logging.getLogger(__name__)

_WRITE_ATTEMPTS = 32
"""Each lost race means a later time was written: with few writers this ends quickly."""


def stream_name(bucket: str = BUCKET) -> str:
    """The JetStream stream behind a key-value bucket."""
    return f"KV_{bucket}"


@dataclass(frozen=True)
class Revoked:
    """One entry of the bucket."""

    kind: str
    identifier: str
    revoked_at: int


async def ensure_bucket(
    js: JetStreamContext, *, horizon_s: float, replicas: int = 1, bucket: str = BUCKET
) -> KeyValue:
    """Create the bucket, or bring an existing one to this horizon (max_age) and replicas.

    Only its producer (identity) calls this; the services may not change it.
    """
    try:
        kv = await js.key_value(bucket)
    except BucketNotFoundError:
        try:
            return await js.create_key_value(
                KeyValueConfig(
                    bucket=bucket,
                    description="Revoked sessions, users and API keys (keel_runtime.revocation)",
                    history=1,
                    ttl=horizon_s,
                    replicas=replicas,
                    storage=StorageType.FILE,
                )
            )
        except BadRequestError:
            # Another identity replica created it meanwhile; compare with what it made.
            kv = await js.key_value(bucket)
    info = await js.stream_info(stream_name(bucket))
    config = info.config
    if abs((config.max_age or 0) - horizon_s) > 1e-3 or (config.num_replicas or 1) != replicas:
        log.info(
            "updating revocation bucket %s: max_age %.0fs, replicas %d", bucket, horizon_s, replicas
        )
        config.max_age = horizon_s
        config.num_replicas = replicas
        await js.update_stream(config)
    return kv


async def record(kv: KeyValue, kind: str, identifier: str, revoked_at: int) -> bool:
    """Write a revocation unless the bucket holds a later one of the same thing.

    Compare-and-set, so two writers racing (two identity replicas, a redelivered event) keep
    the later time: a user's entry must never move back. True when this call wrote it.
    """
    key = bucket_key(kind, identifier)
    value = encode_value(revoked_at)
    for _ in range(_WRITE_ATTEMPTS):
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            try:
                await kv.create(key, value)
            except KeyWrongLastSequenceError:
                continue  # written meanwhile: compare again
            return True
        known = decode_value(entry.value)
        if known is not None and known >= revoked_at:
            return False
        try:
            await kv.update(key, value, last=entry.revision)
        except KeyWrongLastSequenceError:
            continue
        return True
    raise RuntimeError(f"revocation {key} kept changing under {_WRITE_ATTEMPTS} writes")


async def read_all(js: JetStreamContext, bucket: str = BUCKET) -> list[Revoked]:
    """Every current entry, oldest revocation first (for operators: one watch to its end)."""
    kv = await js.key_value(bucket)
    watcher = await kv.watchall(ignore_deletes=True)
    found: list[Revoked] = []
    try:
        async for entry in watcher:
            if entry is None:  # the end of what the bucket held
                break
            parsed = parse_key(entry.key)
            at = decode_value(entry.value)
            if parsed is not None and at is not None:
                found.append(Revoked(parsed[0], parsed[1], at))
    finally:
        await watcher.stop()
    return sorted(found, key=lambda r: (r.revoked_at, r.kind, r.identifier))
