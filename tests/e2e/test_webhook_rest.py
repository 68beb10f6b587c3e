"""Billing webhooks through the gateway: a private target refused, an endpoint's deliveries
listed and one redelivered over REST."""

from __future__ import annotations

import uuid

import httpx
import pytest
from e2e_support import Json, Tenant, assert_status_error, get_json, post_json, wait_for

pytestmark = pytest.mark.e2e


def test_a_metadata_address_is_refused(gateway: httpx.Client, tenant: Tenant) -> None:
    response = gateway.post(
        "/v1/webhookEndpoints",
        params={"requestId": str(uuid.uuid4())},
        json={"url": "https://169.254.169.254/latest/meta-data/"},
        headers=tenant.auth,
    )
    assert_status_error(response, http_status=400, code=3, reason="WEBHOOK_URL_REFUSED")


def test_deliveries_are_listed_and_redelivered(gateway: httpx.Client, tenant: Tenant) -> None:
    # ".example" names never resolve: accepted at creation, refused at each send (no address).
    created = gateway.post(
        "/v1/webhookEndpoints",
        params={"requestId": str(uuid.uuid4())},  # the body is the endpoint itself
        json={"url": "https://hooks.example/e2e"},
        headers=tenant.auth,
    )
    assert created.status_code == 200, created.text
    assert created.json()["signingSecret"].startswith("whsec_")
    endpoint: Json = created.json()["webhookEndpoint"]
    deliveries_path = f"/v1/webhookEndpoints/{endpoint['webhookEndpointId']}/deliveries"
    # Any billing event of the organization is queued for the endpoint.
    post_json(
        gateway,
        "/v1/usage:record",
        tenant,
        {"usage": {"metric": "api.calls", "quantity": "1", "dedupKey": str(uuid.uuid4())}},
    )

    def queued() -> Json | None:
        # Other events of the new tenant (its subscription starting) may be queued too.
        found: list[Json] = get_json(gateway, deliveries_path, tenant).get("deliveries", [])
        usage = [d for d in found if d["eventType"] == "billing.usage.recorded"]
        return usage[0] if usage else None

    delivery = wait_for(queued, "billing queueing the usage event for the endpoint")

    again = post_json(gateway, f"{deliveries_path}/{delivery['deliveryId']}:redeliver", tenant)
    assert again["delivery"]["state"] == "WEBHOOK_DELIVERY_STATE_PENDING"
    assert again["delivery"]["deliveryId"] == delivery["deliveryId"]

    unknown = gateway.post(
        f"{deliveries_path}/{uuid.uuid4()}:redeliver", json={}, headers=tenant.auth
    )
    assert_status_error(unknown, http_status=404, code=5, reason="WEBHOOK_DELIVERY_NOT_FOUND")
