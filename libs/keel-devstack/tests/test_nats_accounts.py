"""The embedded NATS server's accounts, attacked with real clients.

Permission violations do not close a connection: the server answers the offending PUB or SUB
with -ERR, which nats-py hands to the error callback while reading. A flush (PING/PONG) after
the offending command returns only once that -ERR has been read, so the tests need no waiting.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from keel_devstack.embedded import EmbeddedInfra
from keel_runtime.events import connect_nats_once, ensure_stream, service_stream
from keel_runtime.events.accounts import OPERATOR, SERVICES, service_permissions

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("NATS_URL")), reason="an external NATS_URL has no Keel accounts"
)


class Session:
    """A client as ``user`` that records the errors the server sends it."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc = Client()

    async def connect(self, url: str) -> Session:
        async def record(exc: Exception) -> None:
            self.errors.append(str(exc))

        await self.nc.connect(url, allow_reconnect=False, error_cb=record, connect_timeout=5)
        return self


@pytest.fixture
async def operator(keel_infra: EmbeddedInfra) -> AsyncIterator[JetStreamContext]:
    nc, js = await connect_nats_once(keel_infra.nats_url_for(OPERATOR), name="accounts-test")
    for service in SERVICES:
        await ensure_stream(js, service_stream(service))
    yield js
    await nc.drain()


async def test_an_anonymous_client_is_refused(keel_infra: EmbeddedInfra) -> None:
    keel_infra.nats_url()
    assert keel_infra.nats is not None
    with pytest.raises(NatsError, match=r"[Aa]uthorization"):
        await nats.connect(keel_infra.nats.url, allow_reconnect=False, connect_timeout=5)


async def test_a_wrong_password_is_refused(keel_infra: EmbeddedInfra) -> None:
    keel_infra.nats_url()
    assert keel_infra.nats is not None
    forged = f"nats://billing:not-the-password@127.0.0.1:{keel_infra.nats.port}"
    with pytest.raises(NatsError, match=r"[Aa]uthorization"):
        await nats.connect(forged, allow_reconnect=False, connect_timeout=5)


async def test_identity_cannot_forge_an_item_confirmed_event(
    keel_infra: EmbeddedInfra, operator: JetStreamContext
) -> None:
    before = (await operator.stream_info("ITEMS")).state.last_seq
    identity = await Session().connect(keel_infra.nats_url_for("identity"))
    try:
        await identity.nc.publish(
            "items.item.confirmed", b"forged", headers={"Nats-Msg-Id": str(uuid.uuid4())}
        )
        await identity.nc.flush()
    finally:
        await identity.nc.close()
    assert identity.errors == ['nats: permissions violation for publish to "items.item.confirmed"']
    assert (await operator.stream_info("ITEMS")).state.last_seq == before


@pytest.mark.parametrize("subject", ["billing.>", "billing.invoice.paid", "_INBOX.>", ">"])
async def test_identity_cannot_listen_to_other_subjects(
    keel_infra: EmbeddedInfra, subject: str
) -> None:
    identity = await Session().connect(keel_infra.nats_url_for("identity"))
    try:
        await identity.nc.subscribe(subject)
        await identity.nc.flush()
    finally:
        await identity.nc.close()
    # The server's -ERR line reaches the callback lower-cased.
    assert identity.errors == [
        f'nats: permissions violation for subscription to "{subject.lower()}"'
    ]


async def test_identity_cannot_read_billing_through_jetstream(
    keel_infra: EmbeddedInfra, operator: JetStreamContext
) -> None:
    """A consumer on another service's stream is a subscription by other means."""
    identity = await Session().connect(keel_infra.nats_url_for("identity"))
    try:
        await identity.nc.publish("$JS.API.CONSUMER.CREATE.BILLING", b"{}")
        await identity.nc.flush()
    finally:
        await identity.nc.close()
    assert identity.errors == [
        'nats: permissions violation for publish to "$js.api.consumer.create.billing"'
    ]


async def test_a_service_publishes_its_own_events(
    keel_infra: EmbeddedInfra, operator: JetStreamContext
) -> None:
    nc, js = await connect_nats_once(keel_infra.nats_url_for("identity"), name="identity")
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
