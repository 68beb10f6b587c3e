"""Sign-up reaches JetStream: the relay publishes identity.organization.created."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import grpc
import pytest
from keel.events.v1.envelope_pb2 import Envelope
from keel.identity.v1 import events_pb2, organization_service_pb2, organization_service_pb2_grpc

from identity.config import IdentityConfig
from keel_runtime.events import connect_nats, ensure_stream, service_stream

pytestmark = pytest.mark.integration


@pytest.fixture
def config(migrated_database_url: str, nats_url: str) -> IdentityConfig:
    return dataclasses.replace(
        IdentityConfig(database_url=migrated_database_url), nats_url=nats_url
    )


async def test_organization_created_is_published(channel: grpc.aio.Channel, nats_url: str) -> None:
    nc, js = await connect_nats(nats_url)
    try:
        await ensure_stream(js, service_stream("identity"))
        # Ordered ephemeral consumer from now on: sees only events published after it.
        sub = await js.subscribe(
            "identity.organization.created", ordered_consumer=True, deliver_policy="new"
        )
        created = await organization_service_pb2_grpc.OrganizationServiceStub(
            channel
        ).CreateOrganization(
            organization_service_pb2.CreateOrganizationRequest(
                display_name="Engines",
                owner_email=f"{uuid.uuid4().hex}@example.com",
                owner_password="correct horse battery",
            )
        )
        org_id = created.organization.organization_id

        async def ours() -> Envelope:
            while True:
                msg = await sub.next_msg(timeout=10)
                envelope = Envelope.FromString(msg.data)
                if envelope.org_id == org_id:
                    assert msg.headers and msg.headers.get("Nats-Msg-Id") == envelope.id
                    return envelope

        envelope = await asyncio.wait_for(ours(), timeout=15)
        payload = events_pb2.OrganizationCreated()
        assert envelope.payload.Unpack(payload)
        assert (envelope.type, envelope.source, envelope.subject) == (
            "identity.organization.created",
            "identity",
            org_id,
        )
        assert payload.owner_user_id == created.owner.user_id
        assert payload.default_currency == "USD"
        await sub.unsubscribe()
    finally:
        await nc.drain()
