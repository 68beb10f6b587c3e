"""API-key scopes hold in every service, reads included, from the contracts' one table."""

from __future__ import annotations

import uuid

import httpx
import pytest
from e2e_support import Json, Tenant, assert_status_error, new_email, post_json

pytestmark = pytest.mark.e2e


def _key_token(gateway: httpx.Client, tenant: Tenant, scopes: list[str], role: str) -> Json:
    """The headers of a fresh API key's access token (kind api_key)."""
    body = {
        "requestId": str(uuid.uuid4()),
        "displayName": f"{role} {' '.join(scopes)}",
        "scopes": scopes,
        "roles": [role],
    }
    secret = post_json(gateway, "/v1/apiKeys", tenant, body)["secret"]
    grant = gateway.post("/v1/sessions:exchangeApiKey", json={"apiKey": secret})
    assert grant.status_code == 200, grant.text
    return {"authorization": f"Bearer {grant.json()['accessToken']}"}


def _refused(response: httpx.Response) -> None:
    assert_status_error(response, http_status=403, code=7, reason="SCOPE_REQUIRED")


def test_an_items_read_key_reaches_items_and_nothing_else(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    # ADMIN role, items:read scope: the key may only do what both allow.
    as_key = _key_token(gateway, tenant, ["items:read"], "ROLE_ADMIN")

    items = gateway.get("/v1/items", headers=as_key)
    assert items.status_code == 200, items.text

    for path in (
        "/v1/users",
        "/v1/users/me",
        "/v1/apiKeys",
        "/v1/invoices",
        "/v1/subscriptions",
        "/v1/webhookEndpoints",
        "/v1/usage/summary",
        "/v1/billing/overview",
        "/v1/accounts",
    ):
        _refused(gateway.get(path, headers=as_key))

    user = {
        "requestId": str(uuid.uuid4()),
        "email": new_email("scoped"),
        "initialPassword": "correct horse battery",
        "roles": ["ROLE_MEMBER"],
    }
    _refused(gateway.post("/v1/users", json=user, headers=as_key))
    key = {"requestId": str(uuid.uuid4()), "displayName": "escalate", "scopes": ["items:write"]}
    _refused(gateway.post("/v1/apiKeys", json=key, headers=as_key))
    hook = {"requestId": str(uuid.uuid4()), "url": "https://example.com/hook"}
    _refused(gateway.post("/v1/webhookEndpoints", json=hook, headers=as_key))
    usage = {"metric": "items.confirmed", "quantity": "1000000000", "dedupKey": "k1"}
    _refused(gateway.post("/v1/usage:record", json={"usage": usage}, headers=as_key))
    item = {"requestId": str(uuid.uuid4()), "url": "https://example.com/scoped"}
    _refused(gateway.post("/v1/items", json=item, headers=as_key))


def test_a_key_gets_the_intersection_of_its_roles_and_scopes(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    # The items:write scope does not lift a READ_ONLY role.
    as_key = _key_token(gateway, tenant, ["items:write"], "ROLE_READ_ONLY")
    item = {"requestId": str(uuid.uuid4()), "url": "https://example.com/read-only"}
    write = gateway.post("/v1/items", json=item, headers=as_key)
    assert_status_error(write, http_status=403, code=7)
    assert gateway.get("/v1/items", headers=as_key).status_code == 200

    # identity:read lets a READ_ONLY key list users, never create one.
    reader = _key_token(gateway, tenant, ["identity:read"], "ROLE_READ_ONLY")
    assert gateway.get("/v1/users", headers=reader).status_code == 200
    user = {
        "requestId": str(uuid.uuid4()),
        "email": new_email("reader"),
        "initialPassword": "correct horse battery",
    }
    _refused(gateway.post("/v1/users", json=user, headers=reader))


def test_user_tokens_keep_their_role_rules(gateway: httpx.Client, tenant: Tenant) -> None:
    for path in ("/v1/users", "/v1/apiKeys", "/v1/invoices", "/v1/webhookEndpoints"):
        response = gateway.get(path, headers=tenant.auth)
        assert response.status_code == 200, (path, response.text)
