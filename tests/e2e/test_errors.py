"""Every failure reaches the REST caller as JSON google.rpc.Status with the right HTTP status."""

from __future__ import annotations

import uuid

import httpx
import pytest
from e2e_support import (
    BAD_REQUEST,
    ERROR_INFO,
    Tenant,
    assert_status_error,
    detail,
    new_email,
    request_id,
)

pytestmark = pytest.mark.e2e

MISSING = "00000000-0000-4000-8000-000000000000"


def test_wrong_password_is_401_invalid_credentials(gateway: httpx.Client, tenant: Tenant) -> None:
    rid = request_id()
    response = gateway.post(
        "/v1/sessions",
        json={"email": tenant.email, "password": "not the password"},
        headers={"x-request-id": rid},
    )
    body = assert_status_error(
        response, http_status=401, code=16, reason="INVALID_CREDENTIALS", request_id=rid
    )
    assert detail(body, ERROR_INFO)["domain"] == "identity.keel"


def test_unknown_email_looks_like_a_wrong_password(gateway: httpx.Client) -> None:
    response = gateway.post("/v1/sessions", json={"email": new_email(), "password": "whatever1"})
    assert_status_error(response, http_status=401, code=16, reason="INVALID_CREDENTIALS")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (f"/v1/items/{MISSING}", "ITEM_NOT_FOUND"),
        (f"/v1/accounts/{MISSING}", None),
        (f"/v1/subscriptions/{MISSING}", None),
        (f"/v1/organizations/{MISSING}", "ORGANIZATION_NOT_FOUND"),
    ],
)
def test_missing_resource_is_404_with_a_reason(
    gateway: httpx.Client, tenant: Tenant, path: str, reason: str | None
) -> None:
    rid = request_id()
    response = gateway.get(path, headers={**tenant.auth, "x-request-id": rid})
    body = assert_status_error(response, http_status=404, code=5, reason=reason, request_id=rid)
    assert detail(body, ERROR_INFO)["reason"].endswith("NOT_FOUND"), body


def test_invalid_input_is_400_with_field_violations(gateway: httpx.Client, tenant: Tenant) -> None:
    rid = request_id()
    response = gateway.post(
        "/v1/items", json={"url": "not a url"}, headers={**tenant.auth, "x-request-id": rid}
    )
    body = assert_status_error(response, http_status=400, code=3, request_id=rid)
    violations = detail(body, BAD_REQUEST)["fieldViolations"]
    assert {violation["field"] for violation in violations} == {"url"}, violations
    assert all(violation["description"] for violation in violations), violations


def test_invalid_sign_up_names_every_bad_field(gateway: httpx.Client) -> None:
    response = gateway.post(
        "/v1/organizations",
        json={"displayName": "", "ownerEmail": "not-an-email", "ownerPassword": "short"},
    )
    body = assert_status_error(response, http_status=400, code=3)
    fields = {v["field"] for v in detail(body, BAD_REQUEST)["fieldViolations"]}
    assert fields == {"display_name", "owner_email", "owner_password"}, fields


@pytest.mark.parametrize(
    "raw", ["{not json", '{"email": 12, "password": ["x"]}', '{"noSuchField": 1}']
)
def test_malformed_json_is_400_json(gateway: httpx.Client, raw: str) -> None:
    rid = request_id()
    response = gateway.post(
        "/v1/sessions",
        content=raw,
        headers={"content-type": "application/json", "x-request-id": rid},
    )
    assert_status_error(response, http_status=400, code=3, request_id=rid)


def test_unknown_route_with_a_valid_token_is_404_json(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    rid = request_id()
    response = gateway.get("/v1/no-such-thing", headers={**tenant.auth, "x-request-id": rid})
    assert_status_error(response, http_status=404, code=5, reason="NOT_FOUND", request_id=rid)


def test_unknown_query_parameter_is_400_json(gateway: httpx.Client, tenant: Tenant) -> None:
    response = gateway.get("/v1/users/me", params={"bogus": "1"}, headers=tenant.auth)
    assert_status_error(response, http_status=400, code=3)


@pytest.mark.parametrize("path", ["/v1/users/me", "/v1/accounts", "/v1/items", "/v1/no-such-thing"])
def test_missing_token_is_401_json_at_the_edge(gateway: httpx.Client, path: str) -> None:
    rid = request_id()
    response = gateway.get(path, headers={"x-request-id": rid})
    assert_status_error(
        response, http_status=401, code=16, reason="UNAUTHENTICATED", request_id=rid
    )


def test_invalid_token_is_401_json_at_the_edge(gateway: httpx.Client) -> None:
    rid = request_id()
    response = gateway.get(
        "/v1/users/me", headers={"authorization": "Bearer abc.def.ghi", "x-request-id": rid}
    )
    assert_status_error(
        response, http_status=401, code=16, reason="UNAUTHENTICATED", request_id=rid
    )


def test_gateway_generates_a_request_id_when_none_is_sent(gateway: httpx.Client) -> None:
    response = gateway.get("/v1/users/me")
    body = assert_status_error(response, http_status=401, code=16)
    sent_back = response.headers.get("x-request-id")
    assert sent_back
    assert detail(body, "type.googleapis.com/google.rpc.RequestInfo")["requestId"] == sent_back


def test_client_uuid_request_id_comes_back_unchanged(gateway: httpx.Client, tenant: Tenant) -> None:
    rid = str(uuid.uuid4())  # UUID-shaped ids are the ones Envoy is tempted to rewrite
    response = gateway.get(f"/v1/items/{MISSING}", headers={**tenant.auth, "x-request-id": rid})
    assert_status_error(response, http_status=404, code=5, request_id=rid)
    assert response.headers.get("x-request-id") == rid
    edge = gateway.get("/v1/users/me", headers={"x-request-id": rid})
    assert_status_error(edge, http_status=401, code=16, request_id=rid)
