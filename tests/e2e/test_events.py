"""identity.organization.created reaches ledger and billing once, however often it is delivered."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest
from e2e_support import Json, Tenant, wait_for, wait_for_async
from keel.events.v1 import envelope_pb2
from nats.js.api import ConsumerInfo

from keel_devstack.stack import Endpoints
from keel_runtime.events import connect_nats_once

pytestmark = pytest.mark.e2e

SUBJECT = "identity.organization.created"
ZERO_AMOUNTS = ("debitsPosted", "creditsPosted", "debitsPending", "creditsPending", "available")


def _wallets(gateway: httpx.Client, tenant: Tenant) -> list[Json]:
    response = gateway.get("/v1/accounts", headers=tenant.auth)
    assert response.status_code == 200, response.text
    accounts: list[Json] = response.json()["accounts"]
    return [account for account in accounts if account["kind"] == "ACCOUNT_KIND_WALLET"]


def _subscriptions(gateway: httpx.Client, tenant: Tenant) -> list[Json]:
    response = gateway.get("/v1/subscriptions", headers=tenant.auth)
    assert response.status_code == 200, response.text
    subscriptions: list[Json] = response.json()["subscriptions"]
    return subscriptions


def _wait_wallet(gateway: httpx.Client, tenant: Tenant) -> Json:
    wallets = wait_for(lambda: _wallets(gateway, tenant) or None, "ledger opening the wallet")
    assert len(wallets) == 1, wallets
    return wallets[0]


def _wait_subscription(gateway: httpx.Client, tenant: Tenant) -> Json:
    found = wait_for(
        lambda: _subscriptions(gateway, tenant) or None, "billing starting the subscription"
    )
    assert len(found) == 1, found
    return found[0]


def test_sign_up_opens_the_wallet_and_starts_the_default_subscription(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    wallet = _wait_wallet(gateway, tenant)
    assert wallet["organizationId"] == tenant.org_id
    assert wallet["asset"]["code"] == "USD"  # the organization's default currency
    balance = gateway.get(f"/v1/accounts/{wallet['accountId']}/balance", headers=tenant.auth)
    assert balance.status_code == 200, balance.text
    amounts = balance.json()["balance"]
    assert amounts["accountId"] == wallet["accountId"]
    assert {key: str(amounts[key]) for key in ZERO_AMOUNTS} == dict.fromkeys(ZERO_AMOUNTS, "0")

    subscription = _wait_subscription(gateway, tenant)
    assert subscription["organizationId"] == tenant.org_id
    assert subscription["state"] == "SUBSCRIPTION_STATE_ACTIVE"
    assert subscription["planId"]
    got = gateway.get(f"/v1/subscriptions/{subscription['subscriptionId']}", headers=tenant.auth)
    assert got.status_code == 200, got.text
    assert got.json()["subscription"] == subscription


def _organization_created(mesh: Endpoints, org_id: str) -> tuple[bytes, dict[str, str], str]:
    """The envelope identity published for this organization: bytes, headers, event id."""
    with psycopg.connect(mesh.databases["identity"]) as conn:
        rows = conn.execute(
            "SELECT payload, headers FROM outbox WHERE subject = %s AND published_at IS NOT NULL",
            (SUBJECT,),
        ).fetchall()
    for payload, headers in rows:
        envelope = envelope_pb2.Envelope.FromString(payload)
        if envelope.org_id == org_id:
            return bytes(payload), {str(k): str(v) for k, v in headers.items()}, envelope.id
    raise AssertionError(f"no published {SUBJECT} in identity's outbox for {org_id}")


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching with `*` (one token) and `>` (the rest)."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or token not in ("*", have[index]):
            return False
    return len(want) == len(have)


def _consumes(info: ConsumerInfo, subject: str) -> bool:
    config = info.config
    filters = [*(config.filter_subjects or []), config.filter_subject]
    return any(_matches(pattern, subject) for pattern in filters if pattern)


def _count(database_url: str, query: str, *args: Any) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(query, args).fetchone()
    assert row is not None
    return int(row[0])


async def test_redelivered_organization_created_changes_nothing(
    gateway: httpx.Client, tenant: Tenant, mesh: Endpoints
) -> None:
    wallet = _wait_wallet(gateway, tenant)
    subscription = _wait_subscription(gateway, tenant)
    payload, headers, event_id = _organization_created(mesh, tenant.org_id)

    nc, _ = await connect_nats_once(mesh.nats_operator_url, tls=mesh.operator_tls())
    try:
        js = nc.jetstream()
        # The relay published with Nats-Msg-Id = event id: the broker drops a same-id repeat.
        same_id = await js.publish(SUBJECT, payload, headers={**headers, "Nats-Msg-Id": event_id})
        assert same_id.duplicate
        # A new message id gets past the broker: the consumers' inboxes must stop it.
        again = await js.publish(
            SUBJECT, payload, headers={**headers, "Nats-Msg-Id": str(uuid.uuid4())}
        )
        assert not again.duplicate
        consumers = [c for c in await js.consumers_info(again.stream) if _consumes(c, SUBJECT)]
        names = sorted(c.name for c in consumers)
        assert any("ledger" in n for n in names) and any("billing" in n for n in names), names

        async def all_acked() -> bool | None:
            infos = [await js.consumer_info(again.stream, name) for name in names]
            done = all(
                info.ack_floor is not None and info.ack_floor.stream_seq >= again.seq
                for info in infos
            )
            return True if done else None

        await wait_for_async(all_acked, f"consumers {names} acking the redelivery")
    finally:
        await nc.close()

    assert _wallets(gateway, tenant) == [wallet]
    assert _subscriptions(gateway, tenant) == [subscription]
    ledger, billing = mesh.databases["ledger"], mesh.databases["billing"]
    org = tenant.org_id
    assert _count(ledger, "SELECT count(*) FROM accounts WHERE org_id = %s", org) == 1
    assert _count(billing, "SELECT count(*) FROM subscriptions WHERE org_id = %s", org) == 1
    for database in (ledger, billing):
        inbox = _count(database, "SELECT count(*) FROM inbox WHERE event_id = %s", event_id)
        assert inbox == 1, f"{database}: {inbox} inbox rows for event {event_id}"
