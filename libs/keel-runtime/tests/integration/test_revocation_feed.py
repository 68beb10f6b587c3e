"""The revocation bucket and the feed that watches it into a deny set, on a real NATS server.

Each test has a bucket of its own (the session's server also runs a mesh with the real one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from keel_runtime.events import connect_nats
from keel_runtime.events.revocation_bucket import ensure_bucket, read_all, record, stream_name
from keel_runtime.events.revocation_feed import RevocationFeed
from keel_runtime.events.revocations_cli import run as revocations_cli
from keel_runtime.revocation import API_KEY, SESSION, USER, Revocations, bucket_key

HORIZON_S = 960.0


@pytest.fixture
async def bucket(js: JetStreamContext, unique_name: str) -> AsyncIterator[str]:
    name = f"REVOCATIONS_{unique_name.upper()}"
    yield name
    with contextlib.suppress(Exception):
        await js.delete_key_value(name)


@pytest.fixture
async def kv(js: JetStreamContext, bucket: str) -> KeyValue:
    return await ensure_bucket(js, horizon_s=HORIZON_S, bucket=bucket)


@contextlib.asynccontextmanager
async def running(feed: RevocationFeed) -> AsyncIterator[RevocationFeed]:
    task = asyncio.create_task(feed.run())
    try:
        yield feed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def now() -> int:
    return int(time.time())


def session_refused(deny: Revocations, sid: str) -> bool:
    return deny.refuses(subject="u-1", kind="user", session_id=sid, issued_at=now())


def refusing(sid: str) -> Callable[[Revocations], bool]:
    return lambda deny: session_refused(deny, sid)


async def test_a_revocation_reaches_a_watching_feed_and_a_fresh_one(
    js: JetStreamContext, kv: KeyValue, bucket: str
) -> None:
    async with running(RevocationFeed(js, bucket=bucket)) as watching:
        await watching.wait_synced(10)
        assert not session_refused(watching.deny_set, "s-1")
        revoked_at = now()
        await record(kv, SESSION, "s-1", revoked_at)
        await record(kv, USER, "u-2", revoked_at)
        await record(kv, API_KEY, "k-3", revoked_at)
        await watching.wait_until(lambda deny: len(deny) == 3, within_s=10)
        assert session_refused(watching.deny_set, "s-1")

    # A process started afterwards loads what the bucket holds before it is synced.
    async with running(RevocationFeed(js, bucket=bucket)) as fresh:
        await fresh.wait_synced(10)
        deny = fresh.deny_set
        assert deny.synced
        assert session_refused(deny, "s-1")
        assert deny.refuses(subject="u-2", kind="user", session_id="", issued_at=revoked_at)
        assert not deny.refuses(subject="u-2", kind="user", session_id="", issued_at=now() + 5)
        assert deny.refuses(subject="k-3", kind="api_key", session_id="", issued_at=revoked_at)


async def test_the_feed_keeps_entries_as_long_as_the_bucket_does(
    js: JetStreamContext, kv: KeyValue, bucket: str
) -> None:
    deny = Revocations(max_token_lifetime_s=60, skew_s=0)
    async with running(RevocationFeed(js, deny, bucket=bucket)) as feed:
        await feed.wait_synced(10)
    assert deny.horizon_s == HORIZON_S


async def test_the_bucket_keeps_the_later_revocation(kv: KeyValue, bucket: str) -> None:
    assert await record(kv, USER, "u-1", 2_000)
    assert not await record(kv, USER, "u-1", 1_000)  # an older event, redelivered
    assert not await record(kv, USER, "u-1", 2_000)
    assert await record(kv, USER, "u-1", 3_000)
    assert (await kv.get(bucket_key(USER, "u-1"))).value == b"3000"


async def test_racing_writers_keep_the_latest(kv: KeyValue) -> None:
    times = list(range(1_000, 1_010))
    await asyncio.gather(*(record(kv, USER, "u-1", at) for at in times))
    assert (await kv.get(bucket_key(USER, "u-1"))).value == b"1009"


async def test_deleting_an_entry_does_not_lift_the_revocation(
    js: JetStreamContext, kv: KeyValue, bucket: str
) -> None:
    async with running(RevocationFeed(js, bucket=bucket)) as feed:
        await feed.wait_synced(10)
        await record(kv, SESSION, "s-1", now())
        await feed.wait_until(refusing("s-1"), within_s=10)
        await kv.delete(bucket_key(SESSION, "s-1"))
        await record(kv, SESSION, "s-2", now())  # seen after the delete
        await feed.wait_until(refusing("s-2"), within_s=10)
        assert session_refused(feed.deny_set, "s-1")


async def test_no_bucket_yet_means_nothing_is_revoked_until_it_appears(
    js: JetStreamContext, bucket: str
) -> None:
    async with running(RevocationFeed(js, bucket=bucket, retry_s=(0.05,))) as feed:
        await feed.wait_synced(10)
        assert await feed.ready()
        kv = await ensure_bucket(js, horizon_s=HORIZON_S, bucket=bucket)
        await record(kv, SESSION, "s-1", now())
        await feed.wait_until(refusing("s-1"), within_s=10)


async def test_the_bucket_is_brought_to_the_declared_horizon(
    js: JetStreamContext, kv: KeyValue, bucket: str
) -> None:
    await ensure_bucket(js, horizon_s=3600, bucket=bucket)
    assert (await js.stream_info(stream_name(bucket))).config.max_age == 3600


async def test_an_operator_lists_the_bucket(
    js: JetStreamContext,
    kv: KeyValue,
    bucket: str,
    nats_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    revoked_at = now()
    await record(kv, USER, "u-1", revoked_at)
    await record(kv, SESSION, "s-1", revoked_at - 10)
    listed = await read_all(js, bucket)
    assert [(r.kind, r.identifier, r.revoked_at) for r in listed] == [
        (SESSION, "s-1", revoked_at - 10),
        (USER, "u-1", revoked_at),
    ]

    url = ["--nats-url", nats_url, "--bucket", bucket]
    assert await revocations_cli([*url, "list", "--kind", "user"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["REVOKED_AT", "KIND", "ID", "FORGOTTEN_IN"]
    assert lines[1].split("\t")[1:3] == ["user", "u-1"]
    assert lines[2] == f"1 revoked; each is forgotten {HORIZON_S:.0f}s after its revocation"


async def test_listing_without_a_bucket_says_nothing_was_revoked(
    bucket: str, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await revocations_cli(["--nats-url", nats_url, "--bucket", bucket, "list"]) == 0
    assert "nothing was ever revoked" in capsys.readouterr().out


async def test_readiness_waits_for_the_first_load_only_within_the_grace(
    nats_url: str, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    # JetStream requests under a prefix nobody serves: the watch can never start.
    nc, _ = await connect_nats(nats_url, name="revocation-feed-test")
    nowhere = nc.jetstream(prefix="$NOWHERE.API", timeout=0.2)
    clock = [0.0]
    feed = RevocationFeed(
        nowhere, bucket=bucket, sync_grace_s=10, ready_wait_s=0.2, monotonic=lambda: clock[0]
    )
    try:
        async with running(feed):
            assert not await feed.ready()
            clock[0] = 10.0
            with caplog.at_level(logging.ERROR, logger="keel_runtime.events.revocation_feed"):
                assert await feed.ready()
                assert await feed.ready()
            assert not feed.synced
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 1
            assert "deny set not loaded" in errors[0].getMessage()
    finally:
        await nc.close()
