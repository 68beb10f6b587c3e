"""Webhook delivery over fakes: which endpoints get which events, signed POSTs, backoff, giving
up."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping
from datetime import timedelta

import pytest
from keel.billing.v1 import events_pb2

from billing.adapters.webhook_targets import WebhookTargets
from billing.app import webhook_delivery
from billing.app.commands import (
    CreateWebhookEndpoint,
)
from billing.app.webhook_delivery import (
    NewDelivery,
    Recipient,
    WebhookDispatcher,
    deliveries_for,
    webhook_body,
)
from billing.app.webhooks import WebhookHandlers
from billing.domain.errors import DeliveryFailed
from billing.domain.events import UsageRecorded
from billing.domain.usage import UsageRecord
from billing.domain.webhook import MAX_ATTEMPTS, retry_delay_s, wants
from keel_runtime.events import Envelope, new_event

from .conftest import T0, FakeClock, FakeDatabase, id_factory, owner, public_dns


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


def paid(org_id: str = "org-1", event_id: str = "ev-1") -> Envelope:
    return new_event(
        type="billing.invoice.paid",
        source="billing",
        subject="inv-1",
        org_id=org_id,
        payload=events_pb2.InvoicePaid(invoice_id="inv-1", transaction_id="tx-1"),
        event_id=event_id,
    )


async def queue(db: FakeDatabase, clock: FakeClock, envelope: Envelope | None = None) -> int:
    """As billing's unit of work does, committing the event."""
    async with db.uow() as uow:
        count = await uow.deliveries.enqueue_events([envelope or paid()], clock())
        await uow.commit()
    return count


def test_each_event_goes_to_the_endpoints_of_its_organization_that_want_it() -> None:
    recipients = [
        Recipient("all", "org-1", ()),
        Recipient("usage", "org-1", ("billing.usage.recorded",)),
        Recipient("elsewhere", "org-2", ()),
    ]
    first, second, theirs = paid(event_id="ev-1"), paid(event_id="ev-2"), paid("org-2", "ev-3")
    assert deliveries_for(recipients, [first, second, theirs]) == [
        NewDelivery("all", "ev-1", "billing.invoice.paid", webhook_body(first)),
        NewDelivery("all", "ev-2", "billing.invoice.paid", webhook_body(second)),
        NewDelivery("elsewhere", "ev-3", "billing.invoice.paid", webhook_body(theirs)),
    ]


def test_a_body_is_built_once_per_wanted_event_and_never_for_an_unwanted_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []

    def counting(envelope: Envelope) -> bytes:
        built.append(envelope.id)
        return envelope.id.encode()

    monkeypatch.setattr(webhook_delivery, "webhook_body", counting)
    twice = [Recipient("a", "org-1", ()), Recipient("b", "org-1", ())]
    assert len(deliveries_for(twice, [paid(event_id="ev-1")])) == 2
    assert built == ["ev-1"]
    usage_only = [Recipient("u", "org-1", ("billing.usage.recorded",))]
    assert deliveries_for(usage_only, [paid(event_id="ev-2")]) == []
    assert deliveries_for([], [paid(event_id="ev-3")]) == []
    assert built == ["ev-1"]


def test_the_body_is_the_documented_json() -> None:
    event = paid()
    assert json.loads(webhook_body(event)) == {
        "id": "ev-1",
        "type": "billing.invoice.paid",
        "organization_id": "org-1",
        "occurred_at": event.occurred_at.ToJsonString(),
        "data": {
            "@type": "type.googleapis.com/keel.billing.v1.InvoicePaid",
            "invoiceId": "inv-1",
            "transactionId": "tx-1",
        },
    }


async def test_fan_out_once_per_wanting_endpoint(db: FakeDatabase, clock: FakeClock) -> None:
    await endpoint(db, clock, [])
    await endpoint(db, clock, ["billing.usage.recorded"])
    assert await queue(db, clock) == 1
    assert await queue(db, clock) == 0  # the same event again


async def test_a_commit_queues_the_deliveries_of_its_events(
    db: FakeDatabase, clock: FakeClock
) -> None:
    await endpoint(db, clock, ["billing.usage.recorded"])
    record = UsageRecord("r-1", "org-1", "api.calls", 1, "k-1", T0, T0)
    async with db.uow() as uow:
        uow.record(UsageRecorded(record))
        # Left without commit: nothing queued.
    assert db.state.deliveries == {}
    async with db.uow() as uow:
        uow.record(UsageRecorded(record))
        await uow.commit()
    (row,) = db.state.deliveries.values()
    assert row.delivery.event_type == "billing.usage.recorded"
    assert row.next_attempt == clock.now


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
