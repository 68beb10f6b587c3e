"""With the token: the organization, the current user, the wallet, the subscription, an item."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from e2e_support import Json, Tenant, access_log, gateway_channel, request_id, wait_for
from keel.billing.v1 import billing_overview_service_pb2 as overview_pb2
from keel.billing.v1 import billing_overview_service_pb2_grpc as overview_grpc
from keel.items.v1 import item_pb2, item_service_pb2, item_service_pb2_grpc

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e

# A new item is ENRICHING; the enrichment worker may already have moved it on.
STATES_AFTER_CREATE = {"ITEM_STATE_ENRICHING", "ITEM_STATE_READY_TO_CONFIRM", "ITEM_STATE_FAILED"}


def _get(gateway: httpx.Client, path: str, tenant: Tenant) -> Json:
    response = gateway.get(path, headers=tenant.auth)
    assert response.status_code == 200, (path, response.text)
    body: Json = response.json()
    return body


def _wallet(gateway: httpx.Client, tenant: Tenant) -> Json:
    def probe() -> Json | None:
        accounts = _get(gateway, "/v1/accounts", tenant)["accounts"]
        wallets = [a for a in accounts if a["kind"] == "ACCOUNT_KIND_WALLET"]
        return wallets[0] if wallets else None

    return wait_for(probe, "wallet account")


def _subscription(gateway: httpx.Client, tenant: Tenant) -> Json:
    def probe() -> Json | None:
        found: list[Json] = _get(gateway, "/v1/subscriptions", tenant)["subscriptions"]
        return found[0] if found else None

    return wait_for(probe, "default subscription")


def test_owner_reads_organization_and_current_user(gateway: httpx.Client, tenant: Tenant) -> None:
    org = _get(gateway, f"/v1/organizations/{tenant.org_id}", tenant)["organization"]
    assert org["organizationId"] == tenant.org_id
    assert org["displayName"] == "E2E Org"

    user = _get(gateway, "/v1/users/me", tenant)["user"]
    assert user["userId"] == tenant.user_id
    assert user["organizationId"] == tenant.org_id
    assert user["email"] == tenant.email
    assert user["roles"] == ["ROLE_OWNER"]


def test_owner_creates_an_item_and_reads_it_back(gateway: httpx.Client, tenant: Tenant) -> None:
    body = {"requestId": str(uuid.uuid4()), "url": "https://example.com/e2e"}
    created = gateway.post("/v1/items", json=body, headers=tenant.auth)
    assert created.status_code == 200, created.text
    item = created.json()["item"]
    assert item["url"] == "https://example.com/e2e"
    assert item["organizationId"] == tenant.org_id
    assert item["createdBy"] == tenant.user_id
    assert item["state"] in STATES_AFTER_CREATE

    again = gateway.post("/v1/items", json=body, headers=tenant.auth)
    assert again.status_code == 200, again.text
    assert again.json()["item"]["itemId"] == item["itemId"], (
        "a repeated requestId made a second item"
    )

    got = _get(gateway, f"/v1/items/{item['itemId']}", tenant)["item"]
    assert got["itemId"] == item["itemId"]
    assert got["state"] in STATES_AFTER_CREATE
    listed = _get(gateway, "/v1/items", tenant)["items"]
    assert [entry["itemId"] for entry in listed] == [item["itemId"]]


def test_item_over_grpc_with_the_principal(mesh: Endpoints, tenant: Tenant) -> None:
    with gateway_channel(mesh, "items") as channel:
        stub = item_service_pb2_grpc.ItemServiceStub(channel)
        metadata = [*tenant.token_metadata(), ("x-request-id", request_id())]
        created = stub.CreateItem(
            item_service_pb2.CreateItemRequest(note="remember the milk"),
            metadata=metadata,
            timeout=5,
        ).item
        assert created.organization_id == tenant.org_id
        assert created.note == "remember the milk"
        got = stub.GetItem(
            item_service_pb2.GetItemRequest(item_id=created.item_id), metadata=metadata, timeout=5
        ).item
    assert got.item_id == created.item_id
    assert item_pb2.ItemState.Name(got.state) in STATES_AFTER_CREATE


def test_billing_reads_the_wallet_from_ledger_propagating_request_id_and_principal(
    gateway: httpx.Client, tenant: Tenant, mesh: Endpoints
) -> None:
    wallet = _wallet(gateway, tenant)
    subscription = _subscription(gateway, tenant)
    rid = request_id()

    response = gateway.get("/v1/billing/overview", headers={**tenant.auth, "x-request-id": rid})

    assert response.status_code == 200, response.text
    overview = response.json()["overview"]
    assert overview["organizationId"] == tenant.org_id
    assert overview["walletAccountId"] == wallet["accountId"]
    assert overview["walletBalance"]["asset"] == wallet["asset"]
    assert str(overview["walletBalance"]["amount"]) == "0"
    assert overview["subscription"]["subscriptionId"] == subscription["subscriptionId"]
    # Ledger saw billing's call(s) under the caller's request id and principal.
    calls = wait_for(
        lambda: access_log(Path(mesh.logs["ledger"]), rid, "/keel.ledger.v1.") or None,
        "ledger's access log line for billing's call",
        within=5,
    )
    (served,) = wait_for(
        lambda: access_log(Path(mesh.logs["billing"]), rid, "/GetBillingOverview") or None,
        "billing's access log line",
        within=5,
    )
    assert all(call.get("code") == "OK" for call in calls), calls
    assert all(call.get("principal_org") == tenant.org_id for call in calls), calls
    assert all(call.get("principal_sub") == tenant.user_id for call in calls), calls
    # One trace: ledger's spans continue billing's (traceparent travelled too).
    assert served.get("trace_id") and {c.get("trace_id") for c in calls} == {served["trace_id"]}


def test_billing_overview_over_grpc(mesh: Endpoints, gateway: httpx.Client, tenant: Tenant) -> None:
    wallet = _wallet(gateway, tenant)
    with gateway_channel(mesh, "billing") as channel:
        stub = overview_grpc.BillingOverviewServiceStub(channel)
        overview = stub.GetBillingOverview(
            overview_pb2.GetBillingOverviewRequest(),
            metadata=[*tenant.token_metadata(), ("x-request-id", request_id())],
            timeout=5,
        ).overview
    assert overview.organization_id == tenant.org_id
    assert overview.wallet_account_id == wallet["accountId"]
    assert overview.wallet_balance.amount == 0
