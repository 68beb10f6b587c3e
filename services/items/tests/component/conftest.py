"""A real items server (runtime server on 127.0.0.1:0) with its relay and worker running."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from keel.items.v1 import item_service_pb2_grpc, tag_service_pb2_grpc
from nats.js import JetStreamContext

from items.adapters.enrichment.local import LocalProvider
from items.bootstrap import build
from items.config import ItemsConfig
from items.domain.model import Enrichment, Source
from keel_runtime.events import Envelope, connect_nats, decode
from keel_runtime.server import RunningServer, start
from keel_runtime.settings import ServerSettings
from keel_runtime.testing import TokenIssuer

Metadata = tuple[tuple[str, str], ...]
Principal = Callable[..., Metadata]
"""``principal(org, sub, roles, kind=..., scope=...)``: call metadata carrying an access
token for that user or API key, as the gateway forwards it."""


@pytest.fixture
def principal(token_issuer: TokenIssuer) -> Principal:
    def metadata(
        org: str = "org-a",
        sub: str = "user-1",
        roles: tuple[str, ...] = ("MEMBER",),
        *,
        kind: str = "user",
        scope: str = "",
    ) -> Metadata:
        return token_issuer.metadata(
            org, subject=sub, roles=roles, kind=kind, scopes=tuple(scope.split())
        )

    return metadata


def error_reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert status is not None, "error carries no google.rpc.Status"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    raise AssertionError("no ErrorInfo in status details")


class GatedProvider:
    """The local provider, held back until the test opens the gate."""

    name = "gated"

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()

    async def enrich(self, source: Source) -> Enrichment:
        await self.gate.wait()
        return await LocalProvider().enrich(source)


@dataclass
class ItemsServer:
    running: RunningServer
    channel: grpc.aio.Channel
    items: item_service_pb2_grpc.ItemServiceStub
    tags: tag_service_pb2_grpc.TagServiceStub
    provider: GatedProvider
    events: asyncio.Queue[Envelope]
    auth: Metadata
    """A member of org-a, user-1: the caller of most tests."""

    async def next_event(self, type_suffix: str) -> Envelope:
        """The next published event whose type ends with ``type_suffix`` (others skipped)."""
        async with asyncio.timeout(15):
            while True:
                envelope = await self.events.get()
                if envelope.type.endswith(type_suffix):
                    return envelope


@pytest.fixture
async def server(
    runtime_database_url: str,
    nats_url: str,
    unique_name: str,
    token_issuer: TokenIssuer,
    principal: Principal,
) -> AsyncIterator[ItemsServer]:
    config = ItemsConfig(
        database_url=runtime_database_url,
        nats_url=nats_url,
        enrichment_max_attempts=2,
        enrichment_backoff_s=(0.05,),
        event_namespace=unique_name,
        outbox_poll_interval_s=0.05,
    )
    provider = GatedProvider()
    spec = await build(config, provider=provider)
    spec.jwks = token_issuer.jwks  # the test's tokens verify as identity's would
    running = await start(spec, ServerSettings(bind="127.0.0.1:0", grace_seconds=1))
    # Watch everything the service publishes, to await events instead of polling.
    nc, js = await connect_nats(nats_url, name="items-component-tests")
    events: asyncio.Queue[Envelope] = asyncio.Queue()

    async def on_message(msg: Any) -> None:
        events.put_nowait(decode(msg.data))

    watcher = await js.subscribe(f"{unique_name}.>", ordered_consumer=True, cb=on_message)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield ItemsServer(
            running,
            channel,
            item_service_pb2_grpc.ItemServiceStub(channel),
            tag_service_pb2_grpc.TagServiceStub(channel),
            provider,
            events,
            principal(),
        )
    finally:
        provider.gate.set()
        await channel.close()
        await running.stop(1)
        await watcher.unsubscribe()
        await _delete_stream(js, unique_name.upper())
        await nc.close()


async def _delete_stream(js: JetStreamContext, name: str) -> None:
    with contextlib.suppress(Exception):  # already gone: nothing to clean
        await js.delete_stream(name)
