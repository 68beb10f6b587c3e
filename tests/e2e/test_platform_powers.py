"""Platform powers through the gateway: no tenant reaches them, over REST or native gRPC.

(Funding and other system accounts: test_ledger_permissions.py.)
"""

from __future__ import annotations

import uuid

import grpc
import httpx
import pytest
from e2e_support import Tenant, assert_status_error, post_json
from google.protobuf import empty_pb2

from keel_devstack.stack import Endpoints

pytestmark = pytest.mark.e2e

PLATFORM_METHODS = [
    "/keel.identity.v1.AdminService/RotateSigningKey",
    "/keel.identity.v1.AuthService/IntrospectToken",
    "/keel.identity.v1.AuthService/AuthenticateApiKey",
    "/keel.ledger.v1.LedgerAdminService/VerifyLedger",
    "/keel.billing.v1.PlanService/CreatePlan",
    "/keel.billing.v1.PlanService/ArchivePlan",
]
OWNER_OF = {"identity": "identity", "ledger": "ledger", "billing": "billing"}


def _grpc_target(mesh: Endpoints) -> str:
    url = mesh.gateway_url
    assert url
    return url.removeprefix("http://")


@pytest.mark.parametrize("method", PLATFORM_METHODS)
def test_a_tenant_owner_cannot_call_a_platform_method_over_native_grpc(
    mesh: Endpoints, tenant: Tenant, method: str
) -> None:
    cluster = method.split(".")[1]
    auth = (("authorization", f"Bearer {tenant.access_token}"),)
    with grpc.insecure_channel(_grpc_target(mesh)) as channel:
        for path in (method, f"/ops/{cluster}{method}"):
            # An empty message parses as any request; the gateway must not forward it.
            call = channel.unary_unary(
                path,
                request_serializer=empty_pb2.Empty.SerializeToString,
                response_deserializer=empty_pb2.Empty.FromString,
            )
            with pytest.raises(grpc.RpcError) as refused:
                call(empty_pb2.Empty(), metadata=auth, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED, (path, refused.value)


def test_a_tenant_owner_cannot_change_the_shared_plan_catalogue_over_rest(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    plan = {
        "planId": f"stolen-{uuid.uuid4().hex[:8]}",
        "plan": {"displayName": "Free forever", "asset": {"code": "USD", "scale": 2}},
    }
    created = gateway.post("/v1/plans", json=plan, headers=tenant.auth)
    assert_status_error(created, http_status=404, code=5)
    archived = gateway.post("/v1/plans/default:archive", json={}, headers=tenant.auth)
    assert_status_error(archived, http_status=404, code=5)
    # Reading the catalogue stays open to tenants.
    assert gateway.get("/v1/plans", headers=tenant.auth).status_code == 200


def test_a_key_cannot_be_minted_with_a_platform_or_unknown_scope(
    gateway: httpx.Client, tenant: Tenant
) -> None:
    for scope in ("billing:admin", "ledger:admin", "identity:admin", "billing:everything"):
        body = {"requestId": str(uuid.uuid4()), "displayName": "escalate", "scopes": [scope]}
        response = gateway.post("/v1/apiKeys", json=body, headers=tenant.auth)
        assert_status_error(response, http_status=400, code=3, reason="INVALID_SCOPE")
        assert repr(scope) in response.json()["message"]
    keys = post_json  # keys the tenant can mint still work
    made = keys(
        gateway,
        "/v1/apiKeys",
        tenant,
        {"requestId": str(uuid.uuid4()), "displayName": "ok", "scopes": ["billing:read"]},
    )
    assert made["apiKey"]["scopes"] == ["billing:read"]
