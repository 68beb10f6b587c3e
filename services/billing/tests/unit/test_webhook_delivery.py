"""Webhook delivery over fakes: fan-out by event type, signed POSTs, backoff, giving up."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Mapping
from datetime import timedelta

from billing.adapters.webhook_targets import WebhookTargets
from billing.app.commands import (
    CreateWebhookEndpoint,
)
from billing.app.webhook_delivery import WebhookDispatcher, fan_out
from billing.app.webhooks import WebhookHandlers
from billing.domain.errors import DeliveryFailed
from billing.domain.webhook import MAX_ATTEMPTS, retry_delay_s, wants

from .conftest import FakeClock, FakeDatabase, id_factory, owner, public_dns


class FakeSender:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[tuple[str, dict[str, str], bytes]] = []

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        self.sent.append((url, dict(headers), body))
        if len(self.sent) <= self.failures:
            raise DeliveryFailed("HTTP 503")


def test_retry_schedule_doubles_caps_and_gives_up() -> None:
    assert [retry_delay_s(n) for n in (1, 2, 3)] == [10, 20, 40]
    assert retry_delay_s(MAX_ATTEMPTS - 1) == 3600
    assert retry_delay_s(MAX_ATTEMPTS) is None


def test_event_type_filter() -> None:
    assert wants((), "billing.invoice.paid")
    assert wants(("billing.invoice.paid",), "billing.invoice.paid")
    assert not wants(("billing.invoice.paid",), "billing.usage.recorded")


async def endpoint(db: FakeDatabase, clock: FakeClock, event_types: list[str]) -> str:
    hooks = WebhookHandlers(
        db.uow,
        clock,
        id_factory(itertools.count(100 + len(db.state.webhooks))),
        WebhookTargets(resolver=public_dns),
    )
    _, secret = await hooks.create(
        CreateWebhookEndpoint(
            owner(),
            url="https://hooks.example/x",
            event_types=event_types,
            description="",
            request_id=f"r{len(db.state.webhooks)}",
        )
    )
    return secret


async def queue(
    db: FakeDatabase, clock: FakeClock, event_type: str = "billing.invoice.paid"
) -> int:
    async with db.uow() as uow:
        count = await fan_out(uow, "org-1", "ev-1", event_type, b'{"id":"ev-1"}', clock)
        await uow.commit()
    return count


async def test_fan_out_once_per_wanting_endpoint(db: FakeDatabase, clock: FakeClock) -> None:
    await endpoint(db, clock, [])
    await endpoint(db, clock, ["billing.usage.recorded"])
    assert await queue(db, clock) == 1
    assert await queue(db, clock) == 0  # the same event again


async def test_signed_delivery_retried_then_delivered(db: FakeDatabase, clock: FakeClock) -> None:
    secret = await endpoint(db, clock, [])
    await queue(db, clock)
    sender = FakeSender(failures=1)
    dispatcher = WebhookDispatcher(db.uow, sender, clock)
    assert await dispatcher.dispatch_due() == 1
    (row,) = db.state.deliveries.values()
    assert row.delivery.attempts == 1 and row.last_error == "HTTP 503"
    assert row.next_attempt == clock.now + timedelta(seconds=10)
    assert await dispatcher.dispatch_due() == 0  # not due yet
    clock.advance(timedelta(seconds=10))
    assert await dispatcher.dispatch_due() == 1
    (row,) = db.state.deliveries.values()
    assert row.delivered == clock.now

    _, headers, body = sender.sent[-1]
    timestamp, signature = (part.split("=", 1)[1] for part in headers["Keel-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert signature == expected.hexdigest()
    assert headers["Keel-Event-Id"] == "ev-1"


async def test_delivery_abandoned_after_the_last_attempt(
    db: FakeDatabase, clock: FakeClock
) -> None:
    await endpoint(db, clock, [])
    await queue(db, clock)
    dispatcher = WebhookDispatcher(db.uow, FakeSender(failures=10**6), clock)
    for _ in range(MAX_ATTEMPTS):
        assert await dispatcher.dispatch_due() == 1
        clock.advance(timedelta(hours=2))
    assert await dispatcher.dispatch_due() == 0
    (row,) = db.state.deliveries.values()
    assert row.abandoned is not None and row.delivery.attempts == MAX_ATTEMPTS
