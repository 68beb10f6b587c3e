"""The embedded NATS server's accounts, attacked with real clients.

Permission violations do not close a connection: the server answers the offending PUB or SUB
with -ERR, which nats-py hands to the error callback; the tests wait for that answer (a refused
subscription's -ERR may come after the PONG of a flush).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import nats
import pytest
from google.protobuf.wrappers_pb2 import StringValue
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keel_devstack.nats import Nats, start_nats
from keel_runtime.db import create_engine, new_metadata
from keel_runtime.events import (
    DEAD_LETTER_STREAM,
    Consumer,
    Envelope,
    Subscription,
    connect_nats_once,
    ensure_stream,
    inbox_table,
    new_event,
    service_stream,
)
from keel_runtime.events.accounts import OPERATOR, SERVICES, inbox_prefix, service_permissions
from keel_runtime.events.dead_letters_cli import run as dead_letters
from keel_runtime.events.revocation_bucket import ensure_bucket, record
from keel_runtime.events.revocation_feed import RevocationFeed
from keel_runtime.revocation import SESSION


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nats]:
    """A server of its own: these tests run the real consumer names, which a mesh on the
    session's server runs too."""
    started = start_nats(tmp_path_factory.mktemp("nats"))
    yield started
    started.stop()


class Session:
    """A client that records the errors the server sends it."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc = Client()
        self._erred = asyncio.Event()

    async def refused(self) -> list[str]:
        """The errors, once the server has sent one (or TimeoutError if it never does)."""
        async with asyncio.timeout(10):
            await self._erred.wait()
        return self.errors

    async def connect(self, server: Nats, user: str) -> Session:
        async def record(exc: Exception) -> None:
            self.errors.append(str(exc))
            self._erred.set()

        await self.nc.connect(
            server.url_for(user),
            inbox_prefix=inbox_prefix(user),
            allow_reconnect=False,
            error_cb=record,
            connect_timeout=5,
        )
        return self


@pytest.fixture
async def operator(server: Nats) -> AsyncIterator[JetStreamContext]:
    nc, js = await connect_nats_once(server.url_for(OPERATOR), name="accounts-test")
    for service in SERVICES:
        await ensure_stream(js, service_stream(service))
    yield js
    await nc.drain()


async def test_an_anonymous_client_is_refused(server: Nats) -> None:
    with pytest.raises(NatsError, match=r"[Aa]uthorization"):
        await nats.connect(server.url, allow_reconnect=False, connect_timeout=5)


async def test_a_wrong_password_is_refused(server: Nats) -> None:
    forged = f"nats://billing:not-the-password@127.0.0.1:{server.port}"
    with pytest.raises(NatsError, match=r"[Aa]uthorization"):
        await nats.connect(forged, allow_reconnect=False, connect_timeout=5)


async def test_identity_cannot_forge_an_item_confirmed_event(
    server: Nats, operator: JetStreamContext
) -> None:
    before = (await operator.stream_info("ITEMS")).state.last_seq
    identity = await Session().connect(server, "identity")
    try:
        await identity.nc.publish(
            "items.item.confirmed", b"forged", headers={"Nats-Msg-Id": str(uuid.uuid4())}
        )
        await identity.nc.flush()
        errors = await identity.refused()
    finally:
        await identity.nc.close()
    assert errors == ['nats: permissions violation for publish to "items.item.confirmed"']
    assert (await operator.stream_info("ITEMS")).state.last_seq == before


@pytest.mark.parametrize("subject", ["billing.>", "billing.invoice.paid", "_INBOX.>", ">"])
async def test_identity_cannot_listen_to_other_subjects(server: Nats, subject: str) -> None:
    identity = await Session().connect(server, "identity")
    try:
        await identity.nc.subscribe(subject)
        errors = await identity.refused()
    finally:
        await identity.nc.close()
    # The server's -ERR line reaches the callback lower-cased.
    assert errors == [f'nats: permissions violation for subscription to "{subject.lower()}"']


async def test_identity_cannot_read_billing_through_jetstream(
    server: Nats, operator: JetStreamContext
) -> None:
    """A consumer on another service's stream is a subscription by other means."""
    identity = await Session().connect(server, "identity")
    try:
        await identity.nc.publish("$JS.API.CONSUMER.CREATE.BILLING", b"{}")
        await identity.nc.flush()
        errors = await identity.refused()
    finally:
        await identity.nc.close()
    assert errors == [
        'nats: permissions violation for publish to "$js.api.consumer.create.billing"'
    ]


async def test_a_service_publishes_its_own_events(server: Nats, operator: JetStreamContext) -> None:
    nc, js = await connect_nats_once(server.url_for("identity"), name="identity")
    try:
        ack = await js.publish("identity.organization.created", b"{}")
    finally:
        await nc.drain()
    assert ack.stream == "IDENTITY"


def test_every_service_publishes_only_under_its_own_name() -> None:
    for service in SERVICES:
        event_subjects = [
            subject
            for subject in service_permissions(service).publish
            if not subject.startswith(("$JS.", "$KV.", "dlq."))
        ]
        assert event_subjects == [f"{service}.>"]


@pytest.fixture
async def revocations(server: Nats) -> AsyncIterator[KeyValue]:
    """The real REVOCATIONS bucket, declared and written by identity with its own user."""
    nc, js = await connect_nats_once(server.url_for("identity"), name="identity")
    kv = await ensure_bucket(js, horizon_s=960)
    yield kv
    await nc.drain()


async def test_identity_writes_revocations_and_every_service_watches_them(
    server: Nats, revocations: KeyValue
) -> None:
    revoked_at = int(time.time())
    assert await record(revocations, SESSION, "s-accounts", revoked_at) in (True, False)
    for service in SERVICES:
        session = await Session().connect(server, service)
        feed = RevocationFeed(session.nc.jetstream(timeout=5))
        task = asyncio.create_task(feed.run())
        try:
            await feed.wait_synced(10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await session.nc.close()
        assert feed.deny_set.refuses(
            subject="u-1", kind="user", session_id="s-accounts", issued_at=revoked_at
        ), service
        assert session.errors == [], service


async def test_a_service_watches_a_bucket_large_enough_for_flow_control(
    server: Nats, operator: JetStreamContext, revocations: KeyValue
) -> None:
    """Past a few MB in flight the server waits for the watcher's flow-control answers
    ($JS.FC...); without the right to send them the first load stalls, unseen."""
    bulky = b"0" * 65_536  # decodes as a revocation at second 0: long expired, not kept
    await asyncio.gather(*(revocations.put(f"session.fc-{n}", bulky) for n in range(48)))
    items = await Session().connect(server, "items")
    feed = RevocationFeed(items.nc.jetstream(timeout=5))
    task = asyncio.create_task(feed.run())
    try:
        await feed.wait_synced(20)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await items.nc.close()
        await operator.purge_stream("KV_REVOCATIONS", subject="$KV.REVOCATIONS.session.fc-*")
    assert items.errors == []


@pytest.mark.parametrize(
    "subject",
    [
        "$KV.REVOCATIONS.session.s-forged",  # put, and delete/purge (the same subject)
        "$JS.API.STREAM.PURGE.KV_REVOCATIONS",
        "$JS.API.STREAM.DELETE.KV_REVOCATIONS",
        "$JS.API.STREAM.UPDATE.KV_REVOCATIONS",  # e.g. max_age 1 s
        "$JS.API.STREAM.MSG.DELETE.KV_REVOCATIONS",
    ],
)
async def test_a_service_cannot_change_the_revocation_bucket(
    server: Nats, operator: JetStreamContext, revocations: KeyValue, subject: str
) -> None:
    before = (await operator.stream_info("KV_REVOCATIONS")).state
    ledger = await Session().connect(server, "ledger")
    try:
        await ledger.nc.publish(subject, b"{}")
        await ledger.nc.flush()
        errors = await ledger.refused()
    finally:
        await ledger.nc.close()
    assert errors == [f'nats: permissions violation for publish to "{subject.lower()}"']
    after = (await operator.stream_info("KV_REVOCATIONS")).state
    assert (after.messages, after.last_seq) == (before.messages, before.last_seq)


async def test_a_service_cannot_put_into_the_revocation_bucket_through_the_kv_api(
    server: Nats, operator: JetStreamContext, revocations: KeyValue
) -> None:
    """What an attacker holding billing's credentials would try: to revoke someone's
    session (or, worse, lift a revocation by overwriting it with an old time)."""
    billing = await Session().connect(server, "billing")
    try:
        kv = await billing.nc.jetstream(timeout=1).key_value("REVOCATIONS")
        with pytest.raises(NatsTimeoutError):
            await kv.put("session.s-victim", b"1")
        errors = await billing.refused()
    finally:
        await billing.nc.close()
    assert errors == [
        'nats: permissions violation for publish to "$kv.revocations.session.s-victim"'
    ]
    with pytest.raises(KeyNotFoundError):
        await (await operator.key_value("REVOCATIONS")).get("session.s-victim")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    metadata = new_metadata()
    inbox_table(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def _failing(conn: AsyncConnection, envelope: Envelope) -> None:
    raise RuntimeError("cannot record this usage")


async def _dead_letters(js: JetStreamContext, subject: str, count: int) -> None:
    """Wait until ``subject`` holds ``count`` messages in the DLQ stream."""
    async with asyncio.timeout(30):
        while True:
            info = await js.stream_info(DEAD_LETTER_STREAM.name, subjects_filter=subject)
            if (info.state.subjects or {}).get(subject, 0) == count:
                return
            await asyncio.sleep(0.05)


async def test_billing_consumes_and_dead_letters_with_its_own_user_and_the_operator_redelivers(
    server: Nats,
    operator: JetStreamContext,
    engine: AsyncEngine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Billing's real consumer, as billing: its consumer, attempt keys and dead letter pass the
    permissions; the operator's dead-letter command lists the event and redelivers it."""
    billing = Session()
    await billing.connect(server, "billing")
    sub = Subscription(
        consumer="billing-item-usage",
        stream="ITEMS",
        filter_subject="items.item.confirmed",
        handler=_failing,
        max_deliver=2,
        backoff_s=(0.05,),
    )
    consumer = Consumer(engine, billing.nc.jetstream(timeout=5), sub, fetch_timeout=0.2)
    await consumer.ensure()
    task = asyncio.create_task(consumer.run())
    envelope = new_event(
        type="items.item.confirmed",
        source="items",
        subject="item-1",
        org_id="org-1",
        payload=StringValue(value="usage"),
    )
    try:
        await operator.publish(
            envelope.type, envelope.SerializeToString(), headers={"Nats-Msg-Id": envelope.id}
        )
        await _dead_letters(operator, "dlq.billing-item-usage", 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await billing.nc.close()
    assert billing.errors == []

    url = ["--nats-url", server.url_for(OPERATOR)]
    assert await dead_letters([*url, "list", "--consumer", "billing-item-usage"]) == 0
    assert envelope.id in capsys.readouterr().out
    before = (await operator.stream_info("ITEMS")).state.last_seq
    assert await dead_letters([*url, "redeliver", "--consumer", "billing-item-usage"]) == 0
    assert (await operator.stream_info("ITEMS")).state.last_seq == before + 1
    await _dead_letters(operator, "dlq.billing-item-usage", 0)
