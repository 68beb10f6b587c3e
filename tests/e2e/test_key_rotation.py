"""Signing-key rotation never breaks tokens in flight, and the JWKS stays small."""

from __future__ import annotations

import json

import httpx
import pytest
from e2e_support import Tenant, gateway_channel, jwt_part, service_channel, workload_channel
from keel.identity.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    auth_service_pb2,
    auth_service_pb2_grpc,
)

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e


def _rotate(mesh: Endpoints) -> admin_service_pb2.RotateSigningKeyResponse:
    """As the platform operator: its certificate, straight to identity, never via the gateway."""
    with workload_channel(mesh, "identity", "operator") as channel:
        stub = admin_service_pb2_grpc.AdminServiceStub(channel)
        rotated: admin_service_pb2.RotateSigningKeyResponse = stub.RotateSigningKey(
            admin_service_pb2.RotateSigningKeyRequest(), timeout=10
        )
    return rotated


def _login(gateway: httpx.Client, tenant: Tenant) -> str:
    response = gateway.post(
        "/v1/sessions", json={"email": tenant.email, "password": tenant.password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["grant"]["accessToken"]
    return token


def _introspect(mesh: Endpoints, token: str) -> bool:
    # A platform method: as a Keel service (billing's certificate) would ask it.
    with service_channel(mesh, "identity") as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        answer = stub.IntrospectToken(
            auth_service_pb2.IntrospectTokenRequest(token=token), timeout=10
        )
    return bool(answer.active)


def test_tokens_issued_around_a_rotation_verify_at_the_gateway_and_in_services(
    mesh: Endpoints, gateway: httpx.Client, tenant: Tenant
) -> None:
    # The gateway has fetched and cached the JWKS before the rotation.
    before = _login(gateway, tenant)
    assert gateway.get("/v1/users/me", headers={"authorization": f"Bearer {before}"}).is_success

    rotated = _rotate(mesh)
    after = _login(gateway, tenant)

    # The new key is published at once, yet signs only once verifiers had time to learn it.
    jwks = gateway.get("/.well-known/jwks.json").json()
    assert rotated.active_key_id in {key["kid"] for key in jwks["keys"]}
    assert jwt_part(after, 0)["kid"] in {key["kid"] for key in jwks["keys"]}
    for token in (before, after):
        auth = {"authorization": f"Bearer {token}"}
        for path in ("/v1/users/me", "/v1/items", "/v1/accounts", "/v1/subscriptions"):
            response = gateway.get(path, headers=auth)
            assert response.status_code == 200, (path, response.text)
        assert _introspect(mesh, token)


def test_the_jwks_holds_at_most_the_current_next_and_previous_keys(
    mesh: Endpoints, gateway: httpx.Client, tenant: Tenant
) -> None:
    for _ in range(5):
        _rotate(mesh)
    with gateway_channel(mesh, "identity") as channel:
        jwks = json.loads(
            auth_service_pb2_grpc.AuthServiceStub(channel)
            .GetJwks(auth_service_pb2.GetJwksRequest(), timeout=10)
            .data
        )
    assert 1 <= len(jwks["keys"]) <= 3, [key["kid"] for key in jwks["keys"]]
    token = _login(gateway, tenant)
    assert gateway.get("/v1/users/me", headers={"authorization": f"Bearer {token}"}).is_success
