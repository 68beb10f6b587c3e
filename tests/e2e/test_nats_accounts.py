"""The NATS permissions table (keel_runtime.events.accounts) is what the services run.

Each service may create and read only the durable consumers listed for it: a consumer added to
a service's subscribers and not to the table would be refused by NATS at start. This test says
so before a mesh is ever started, naming the consumer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from billing.events.subscribers import subscriptions as billing_subscriptions
from identity.events.revocations import revocation_subscription
from items.events.codec import EventCodec
from items.events.subscribers import enrichment_subscriptions
from keel_runtime.events import Subscription
from keel_runtime.events.accounts import SERVICES, Consumes
from ledger.events.subscribers import open_wallet_subscription

UNUSED: Any = None  # handlers are built, never called, here


def _consumes(subscriptions: list[Subscription]) -> set[Consumes]:
    return {Consumes(sub.stream, sub.consumer) for sub in subscriptions}


def test_the_table_lists_exactly_the_consumers_each_service_runs() -> None:
    running = {
        "identity": _consumes([revocation_subscription(UNUSED)]),
        "ledger": _consumes([open_wallet_subscription(UNUSED)]),
        "items": _consumes(
            enrichment_subscriptions(UNUSED, EventCodec(), max_attempts=3, backoff_s=(1,))
        ),
        "billing": _consumes(billing_subscriptions(UNUSED, UNUSED, lambda: datetime.now(UTC))),
    }
    assert {service: set(consumes) for service, consumes in SERVICES.items()} == running
