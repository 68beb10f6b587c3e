"""The gateway's edge contract, through the real Envoy: every rejection of its own is a JSON
google.rpc.Status with the HTTP status that names the problem (405, 415, 414, 431), request
ids are decided once at the edge, and browsers get CORS answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from e2e_support import (
    ERROR_INFO,
    REQUEST_INFO,
    Tenant,
    access_log,
    assert_status_error,
    detail,
    request_id,
    wait_for,
)

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e

MISSING = "00000000-0000-4000-8000-000000000000"
SAFE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
LOCAL_ORIGIN = "http://localhost:5173"


def test_wrong_method_on_a_known_path_is_405_with_allow(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    rid = request_id()
    response = gateway.delete("/v1/users/me", headers={**tenant.auth, "x-request-id": rid})
    assert_status_error(
        response, http_status=405, code=12, reason="METHOD_NOT_ALLOWED", request_id=rid
    )
    # /v1/users/me is GetCurrentUser (GET) and, as /v1/users/{user.userId}, UpdateUser.
    assert response.headers.get("allow") == "GET, PATCH"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/v1/sessions", "POST"),
        ("PUT", f"/v1/items/{MISSING}", "GET, PATCH"),
        ("GET", f"/v1/items/{MISSING}:confirm", "POST"),
    ],
)
def test_405_names_the_methods_of_that_path(
    gateway: httpx.Client, tenant: Tenant, method: str, path: str, allow: str
) -> None:
    response = gateway.request(method, path, headers=tenant.auth)
    assert_status_error(response, http_status=405, code=12, reason="METHOD_NOT_ALLOWED")
    assert response.headers.get("allow") == allow


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data"])
def test_a_non_json_body_is_415(gateway: httpx.Client, tenant: Tenant, content_type: str) -> None:
    rid = request_id()
    response = gateway.post(
        "/v1/items",
        content=json.dumps({"url": "https://example.com/not-json"}),
        headers={**tenant.auth, "content-type": content_type, "x-request-id": rid},
    )
    assert_status_error(
        response, http_status=415, code=3, reason="UNSUPPORTED_MEDIA_TYPE", request_id=rid
    )


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/JSON"])
def test_json_with_parameters_or_any_case_is_accepted(
    gateway: httpx.Client, tenant: Tenant, content_type: str
) -> None:
    response = gateway.post(
        "/v1/items",
        content=json.dumps({"url": "https://example.com/json-ok"}),
        headers={**tenant.auth, "content-type": content_type},
    )
    assert response.status_code == 200, response.text


def test_an_oversize_url_is_414_json(gateway: httpx.Client, tenant: Tenant) -> None:
    rid = request_id()
    response = gateway.get(
        "/v1/items",
        params={"pageToken": "a" * 60_000},
        headers={**tenant.auth, "x-request-id": rid},
    )
    assert_status_error(response, http_status=414, code=8, reason="URI_TOO_LONG", request_id=rid)


def test_oversize_headers_are_431_json(gateway: httpx.Client, tenant: Tenant) -> None:
    """Above the gateway's budget: what services accept as metadata, not a gRPC error."""
    rid = request_id()
    response = gateway.get(
        "/v1/users/me", headers={**tenant.auth, "x-filler": "f" * 6_000, "x-request-id": rid}
    )
    body = assert_status_error(
        response, http_status=431, code=8, reason="HEADERS_TOO_LARGE", request_id=rid
    )
    assert "grpc" not in body["message"].lower(), body


def test_headers_envoy_will_not_even_read_are_431_json(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    """Envoy's codec stops reading at 96 KiB: still a JSON Status, but without a request id
    (the request's headers, x-request-id among them, were never read)."""
    response = gateway.get("/v1/users/me", headers={**tenant.auth, "x-filler": "f" * 120_000})
    assert response.status_code == 431, response.text
    assert response.headers.get("content-type", "").startswith("application/json")
    body = response.json()
    assert body["code"] == 8, body
    assert detail(body, ERROR_INFO)["reason"] == "HEADERS_TOO_LARGE", body


def test_headers_under_the_budget_reach_the_service(gateway: httpx.Client, tenant: Tenant) -> None:
    response = gateway.get("/v1/users/me", headers={**tenant.auth, "x-filler": "f" * 2_500})
    assert response.status_code == 200, response.text


def test_unknown_json_fields_are_ignored_as_documented(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    """Envoy's transcoder has no option to reject unknown body fields (gateway/README.md):
    they are dropped before the service sees the request. Kept explicit here so a change in
    Envoy shows up."""
    response = gateway.post(
        "/v1/items",
        json={"url": "https://example.com/unknown-field", "noSuchField": 1},
        headers=tenant.auth,
    )
    assert response.status_code == 200, response.text
    assert "noSuchField" not in response.text


WALLET = {"asset": {"code": "USD", "scale": 2}, "kind": "ACCOUNT_KIND_WALLET"}


@pytest.mark.parametrize("value", [{"nested": 1}, ["a", "b"]])
def test_a_map_value_that_is_not_a_string_is_400_naming_the_entry(
    gateway: httpx.Client, tenant: Tenant, value: object
) -> None:
    rid = request_id()
    response = gateway.post(
        "/v1/accounts",
        json={**WALLET, "metadata": {"ok": "fine", "team": value}},
        headers={**tenant.auth, "x-request-id": rid},
    )
    body = assert_status_error(response, http_status=400, code=3, request_id=rid)
    assert body["message"].startswith("metadata.team: "), body
    assert "map<string, string>" in body["message"], body
    assert "protobuf" not in response.text and "class" not in response.text, body


def test_a_nested_map_value_in_a_batch_is_400_naming_the_entry(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    response = gateway.post(
        "/v1/transactions:batchCreate",
        json={"transactions": [{"metadata": {"note": {"text": "x"}}}]},
        headers=tenant.auth,
    )
    body = assert_status_error(response, http_status=400, code=3)
    assert body["message"].startswith("metadata.note: "), body


def test_braces_inside_a_map_string_value_are_just_text(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    response = gateway.post(
        "/v1/accounts",
        json={**WALLET, "metadata": {"note": 'looks like {"json": [1]}'}},
        headers=tenant.auth,
    )
    # Not the gateway's rejection: ledger decides (a second wallet is its business).
    assert "metadata.note" not in response.text, response.text
    assert response.status_code != 500, response.text


def test_an_unsafe_request_id_is_replaced_once_for_every_hop(
    gateway: httpx.Client, tenant: Tenant, mesh: Endpoints
) -> None:
    sent = "not safe <script>" + "x" * 200
    response = gateway.get(f"/v1/items/{MISSING}", headers={**tenant.auth, "x-request-id": sent})
    body = assert_status_error(response, http_status=404, code=5)
    chosen = response.headers.get("x-request-id", "")
    assert chosen != sent and SAFE_ID.fullmatch(chosen), chosen
    assert detail(body, REQUEST_INFO)["requestId"] == chosen
    assert detail(body, ERROR_INFO)["domain"] == "items.keel"
    (served,) = wait_for(
        lambda: access_log(Path(mesh.logs["items"]), chosen, "/GetItem") or None,
        "items' access log line under the edge's request id",
        within=5,
    )
    assert served["request_id"] == chosen


def test_an_unsafe_request_id_is_replaced_in_the_gateways_own_replies(
    gateway: httpx.Client,
) -> None:
    response = gateway.get("/v1/users/me", headers={"x-request-id": "bad id\t!"})
    body = assert_status_error(response, http_status=401, code=16)
    chosen = response.headers.get("x-request-id", "")
    assert SAFE_ID.fullmatch(chosen), chosen
    assert detail(body, REQUEST_INFO)["requestId"] == chosen


def test_a_cors_preflight_is_answered_without_a_token(gateway: httpx.Client) -> None:
    response = gateway.options(
        "/v1/users/me",
        headers={
            "origin": LOCAL_ORIGIN,
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers.get("access-control-allow-origin") == LOCAL_ORIGIN
    assert "GET" in response.headers.get("access-control-allow-methods", "")
    assert "authorization" in response.headers.get("access-control-allow-headers", "")


def test_a_preflight_from_another_origin_gets_no_cors_grant(gateway: httpx.Client) -> None:
    response = gateway.options(
        "/v1/users/me",
        headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
    )
    assert response.status_code != 401, response.text
    assert "access-control-allow-origin" not in response.headers


def test_cors_replies_carry_the_origin_and_expose_the_request_id(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    response = gateway.get("/v1/users/me", headers={**tenant.auth, "origin": LOCAL_ORIGIN})
    assert response.status_code == 200, response.text
    assert response.headers.get("access-control-allow-origin") == LOCAL_ORIGIN
    assert "x-request-id" in response.headers.get("access-control-expose-headers", "")


def test_envoy_log_lines_are_json_once_the_config_is_loaded(
    gateway: httpx.Client, mesh: Endpoints
) -> None:
    """Only the lines Envoy prints before it reads its bootstrap (version, extensions) can
    be plain text; from the first JSON line on, every complete line is JSON."""
    assert gateway.get("/.well-known/jwks.json").status_code == 200
    text = Path(mesh.logs["envoy"]).read_text(errors="replace")
    lines = text.splitlines()[: text.count("\n")]  # complete lines only
    first_json = next(i for i, line in enumerate(lines) if line.startswith("{"))
    plain = [line for line in lines[first_json:] if not _is_json(line)]
    assert not plain, plain[:5]
    # Envoy's own lines after loading the config (not only the access log) are JSON.
    (started,) = [line for line in lines if "starting workers" in line]
    assert json.loads(started)["level"] == "info", started


def _is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
