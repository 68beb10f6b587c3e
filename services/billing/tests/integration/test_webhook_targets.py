"""Webhooks sent to a real local HTTP server: allowed only through the allowlist, pinned to
the address checked, refused when DNS turns inward; the README's verification snippet
accepts a real delivery."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from keel.billing.v1 import events_pb2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.adapters.webhook_sender import HttpWebhookSender
from billing.adapters.webhook_targets import WebhookTargets
from billing.app.commands import (
    CreateWebhookEndpoint,
)
from billing.app.webhook_delivery import WebhookDispatcher
from billing.bootstrap import build_handlers
from billing.domain.errors import WebhookUrlRefused
from billing.storage.repositories import DeliveryRepository
from billing.storage.tables import webhook_deliveries
from billing.storage.uow import sql_unit_of_work_factory
from keel_runtime.caller import Caller
from keel_runtime.events import new_event
from keel_runtime.tenancy import set_tenant

from ..serving import serving
from ..unit.conftest import PUBLIC_ADDRESS, FakeClock, FakeLedger

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"


@dataclass
class Received:
    connections: int = 0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@dataclass
class LocalServer:
    port: int
    received: Received


@pytest.fixture
async def local_server() -> AsyncIterator[LocalServer]:
    """A minimal HTTP/1.1 server on 127.0.0.1 that records what reaches it and answers 204."""
    received = Received()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines if ln)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            received.requests.append((headers, body))
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # not HTTP (e.g. a TLS hello): counted as a connection only
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield LocalServer(port, received)
    server.close()
    await server.wait_closed()


def resolver(answers: dict[str, list[str]]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        return answers.get(host, [])

    return resolve


async def deliver_one(
    engine: AsyncEngine, creating: WebhookTargets, sending: WebhookTargets, url: str
) -> tuple[str, str]:
    """Create an endpoint (through `creating`), queue one event, dispatch once (through
    `sending`); (signing secret, delivery's last error)."""
    clock = FakeClock(datetime.now(UTC))
    handlers = serving(build_handlers(engine, FakeLedger(), clock, webhook_targets=creating))
    org_id = str(uuid.uuid4())
    owner = Caller(subject="u1", org_id=org_id, roles=frozenset({"OWNER"}))
    _, secret = await handlers.webhooks.create(
        CreateWebhookEndpoint(
            owner, url=url, event_types=[], description="", request_id=str(uuid.uuid4())
        )
    )
    event = new_event(
        type="billing.invoice.paid",
        source="billing",
        subject="inv-1",
        org_id=org_id,
        payload=events_pb2.InvoicePaid(invoice_id="inv-1", transaction_id="tx-1"),
    )
    async with engine.begin() as conn:
        await set_tenant(conn, org_id)  # as the unit of work committing the event does
        await DeliveryRepository(conn).enqueue_events([event], clock())
    sender = HttpWebhookSender(sending)
    try:
        assert (
            await WebhookDispatcher(
                sql_unit_of_work_factory(engine, clock), sender, clock
            ).dispatch_due()
            == 1
        )
    finally:
        await sender.close()
    async with engine.connect() as conn:
        await set_tenant(conn, org_id)
        row = (await conn.execute(select(webhook_deliveries.c.last_error))).one()
    return secret, str(row.last_error)


def readme_verifier() -> Any:
    """`verify_keel_signature` as the README shows it."""
    text = README.read_text()
    block = re.search(r"<!-- signature-verification-snippet -->\s*```python\n(.*?)```", text, re.S)
    assert block, "the README lost its verification snippet"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), str(README), "exec"), namespace)
    return namespace["verify_keel_signature"]


async def test_an_allowed_local_host_receives_a_delivery_the_readme_snippet_verifies(
    engine: AsyncEngine, local_server: LocalServer
) -> None:
    # "hooks.local" resolves only through this resolver: the request reaching the server
    # proves billing connected to the address it resolved, not to the name.
    targets = WebhookTargets(["hooks.local"], resolver=resolver({"hooks.local": ["127.0.0.1"]}))
    url = f"http://hooks.local:{local_server.port}/hook"
    secret, error = await deliver_one(engine, targets, targets, url)

    assert error == ""
    [(headers, body)] = local_server.received.requests
    assert headers["host"] == f"hooks.local:{local_server.port}"
    verify = readme_verifier()
    signature = headers["keel-signature"]
    assert verify(secret, signature, body)
    timestamp = int(signature.split(",")[0].removeprefix("t="))
    assert not verify(secret, signature, body + b" ")  # tampered body
    assert not verify("whsec_other", signature, body)  # another endpoint's secret
    assert not verify(secret, signature, body, now=timestamp + 301)  # past the 5 minutes
    assert verify(secret, signature, body, now=timestamp + 299)


async def test_a_host_whose_dns_turns_to_loopback_is_never_contacted(
    engine: AsyncEngine, local_server: LocalServer
) -> None:
    url = f"https://rebind.example:{local_server.port}/hook"
    at_creation = WebhookTargets(resolver=resolver({"rebind.example": [PUBLIC_ADDRESS]}))
    at_send = WebhookTargets(resolver=resolver({"rebind.example": ["127.0.0.1"]}))
    _, error = await deliver_one(engine, at_creation, at_send, url)

    assert error.startswith("WEBHOOK_URL_REFUSED")
    assert "loopback" in error
    assert local_server.received.connections == 0


async def test_without_the_allowlist_the_local_server_is_refused_at_creation(
    engine: AsyncEngine, local_server: LocalServer
) -> None:
    handlers = serving(build_handlers(engine, FakeLedger(), webhook_targets=WebhookTargets()))
    owner = Caller(subject="u1", org_id=str(uuid.uuid4()), roles=frozenset({"OWNER"}))
    for url in (
        f"https://127.0.0.1:{local_server.port}/hook",
        f"http://127.0.0.1:{local_server.port}/hook",
        f"https://localhost:{local_server.port}/hook",
    ):
        with pytest.raises(WebhookUrlRefused):
            await handlers.webhooks.create(
                CreateWebhookEndpoint(
                    owner, url=url, event_types=[], description="", request_id=str(uuid.uuid4())
                )
            )
    assert local_server.received.connections == 0
