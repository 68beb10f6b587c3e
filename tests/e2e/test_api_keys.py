"""API keys through the gateway: create over REST, exchange for a token, act within its scopes."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from e2e_support import Json, Tenant, assert_status_error, get_json, jwt_part, post_json

pytestmark = pytest.mark.e2e


def _create_key(gateway: httpx.Client, tenant: Tenant, name: str) -> Json:
    """A READ_ONLY key limited to items:read: the role does not let it write items either."""
    body = {
        "requestId": str(uuid.uuid4()),
        "displayName": name,
        "scopes": ["items:read"],
        "roles": ["ROLE_READ_ONLY"],
    }
    return post_json(gateway, "/v1/apiKeys", tenant, body)


def _exchange(gateway: httpx.Client, secret: str) -> httpx.Response:
    # Deliberately no Authorization header: the key is the only credential.
    return gateway.post("/v1/sessions:exchangeApiKey", json={"apiKey": secret})


def test_api_key_is_exchanged_for_a_token_that_acts_within_its_scopes(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    item = post_json(
        gateway,
        "/v1/items",
        tenant,
        {"requestId": str(uuid.uuid4()), "url": "https://example.com/api-key"},
    )["item"]
    created = _create_key(gateway, tenant, "reporting")
    key, secret = created["apiKey"], created["secret"]
    assert secret.startswith(key["prefix"])

    response = _exchange(gateway, secret)
    assert response.status_code == 200, response.text
    grant = response.json()
    assert grant["tokenType"] == "Bearer"
    assert "refreshToken" not in grant
    assert grant["apiKeyId"] == key["apiKeyId"]
    assert grant["organizationId"] == tenant.org_id
    assert grant["scopes"] == ["items:read"]
    assert 0 < int(grant["expiresIn"]) <= 300
    claims = jwt_part(grant["accessToken"], 1)
    assert claims["kind"] == "api_key" and claims["scope"] == "items:read"
    assert claims["sub"] == key["apiKeyId"] and claims["org"] == tenant.org_id
    assert 0 < claims["exp"] - time.time() <= 300

    as_key = {"authorization": f"Bearer {grant['accessToken']}"}
    listed = gateway.get("/v1/items", headers=as_key)
    assert listed.status_code == 200, listed.text
    assert item["itemId"] in [i["itemId"] for i in listed.json().get("items", [])]

    write = gateway.post(
        "/v1/items",
        json={"requestId": str(uuid.uuid4()), "url": "https://example.com/refused"},
        headers=as_key,
    )
    assert_status_error(write, http_status=403, code=7, reason="SCOPE_REQUIRED")

    # The exchange marks the key as used.
    keys = get_json(gateway, "/v1/apiKeys", tenant)["apiKeys"]
    (listed_key,) = [k for k in keys if k["apiKeyId"] == key["apiKeyId"]]
    assert listed_key.get("lastUsedTime")


def test_revoked_or_unknown_api_keys_are_refused_with_401_json(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    created = _create_key(gateway, tenant, "to revoke")
    key_id = created["apiKey"]["apiKeyId"]
    post_json(gateway, f"/v1/apiKeys/{key_id}:revoke", tenant)

    revoked = assert_status_error(
        _exchange(gateway, created["secret"]), http_status=401, code=16, reason="INVALID_API_KEY"
    )
    unknown = assert_status_error(
        _exchange(gateway, "keel_notakey"), http_status=401, code=16, reason="INVALID_API_KEY"
    )
    # One answer for every cause: it must not tell which keys exist.
    assert revoked["message"] == unknown["message"]
