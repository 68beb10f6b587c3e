"""Refresh, logout, idempotent sign-up, API keys and introspection over gRPC."""

from __future__ import annotations

import json
import uuid

import grpc
import jwt
import psycopg
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from keel.identity.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    api_key_service_pb2,
    api_key_service_pb2_grpc,
    auth_service_pb2,
    auth_service_pb2_grpc,
    organization_service_pb2,
    organization_service_pb2_grpc,
    resources_pb2,
    user_service_pb2,
    user_service_pb2_grpc,
)

from keel_devstack.routed_channel import as_workload

from .conftest import bearer

PASSWORD = "correct horse battery"
# A Keel service: its own certificate, no token, makes the service principal.
MESH_SERVICE = as_workload("items")


def reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    raise AssertionError("no ErrorInfo")


def sign_up_request(
    request_id: str, name: str = "Engines"
) -> organization_service_pb2.CreateOrganizationRequest:
    return organization_service_pb2.CreateOrganizationRequest(
        request_id=request_id,
        display_name=name,
        owner_email="owner@example.com",
        owner_password=PASSWORD,
        default_currency="EUR",
    )


async def login(channel: grpc.aio.Channel) -> auth_service_pb2.TokenGrant:
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)
    response = await auth.Login(
        auth_service_pb2.LoginRequest(email="owner@example.com", password=PASSWORD)
    )
    return response.grant


def claims_of(grant: auth_service_pb2.TokenGrant) -> dict[str, object]:
    return jwt.decode(grant.access_token, options={"verify_signature": False})


async def test_sign_up_is_idempotent_on_request_id(channel: grpc.aio.Channel) -> None:
    orgs = organization_service_pb2_grpc.OrganizationServiceStub(channel)
    request_id = str(uuid.uuid4())

    first = await orgs.CreateOrganization(sign_up_request(request_id))
    again = await orgs.CreateOrganization(sign_up_request(request_id))
    assert again.organization.organization_id == first.organization.organization_id
    assert again.owner.user_id == first.owner.user_id

    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await orgs.CreateOrganization(sign_up_request(request_id, name="Other"))
    assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert reason(reused.value) == "REQUEST_ID_REUSED"

    with pytest.raises(grpc.aio.AioRpcError) as taken:
        await orgs.CreateOrganization(sign_up_request(str(uuid.uuid4())))
    assert taken.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert reason(taken.value) == "EMAIL_TAKEN"


async def test_refresh_then_logout(channel: grpc.aio.Channel) -> None:
    orgs = organization_service_pb2_grpc.OrganizationServiceStub(channel)
    await orgs.CreateOrganization(sign_up_request(str(uuid.uuid4())))
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)
    grant = await login(channel)

    refreshed = (
        await auth.RefreshToken(
            auth_service_pb2.RefreshTokenRequest(refresh_token=grant.refresh_token)
        )
    ).grant
    assert refreshed.refresh_token != grant.refresh_token
    assert claims_of(refreshed)["sub"] == grant.user_id

    await auth.Logout(
        auth_service_pb2.LogoutRequest(refresh_token=refreshed.refresh_token),
        metadata=bearer(refreshed.access_token),
    )
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await auth.RefreshToken(
            auth_service_pb2.RefreshTokenRequest(refresh_token=refreshed.refresh_token)
        )
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert reason(ended.value) == "INVALID_REFRESH_TOKEN"


async def test_api_key_create_authenticate_introspect(channel: grpc.aio.Channel) -> None:
    orgs = organization_service_pb2_grpc.OrganizationServiceStub(channel)
    await orgs.CreateOrganization(sign_up_request(str(uuid.uuid4())))
    grant = await login(channel)
    owner = bearer(grant.access_token)
    keys = api_key_service_pb2_grpc.ApiKeyServiceStub(channel)
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)

    created = await keys.CreateApiKey(
        api_key_service_pb2.CreateApiKeyRequest(display_name="ci", scopes=["items:write"]),
        metadata=owner,
    )
    assert created.secret.startswith(created.api_key.prefix)
    assert created.api_key.state == resources_pb2.API_KEY_STATE_ACTIVE
    assert created.api_key.created_by == claims_of(grant)["sub"]

    authenticated = await auth.AuthenticateApiKey(
        auth_service_pb2.AuthenticateApiKeyRequest(api_key=created.secret),
        metadata=MESH_SERVICE,
    )
    assert authenticated.principal.kind == "api_key"
    introspected = await auth.IntrospectToken(
        auth_service_pb2.IntrospectTokenRequest(token=authenticated.access_token),
        metadata=MESH_SERVICE,
    )
    assert introspected.active
    assert introspected.principal.subject == created.api_key.api_key_id
    assert list(introspected.principal.scopes) == ["items:write"]

    listed = await keys.ListApiKeys(api_key_service_pb2.ListApiKeysRequest(), metadata=owner)
    assert [k.api_key_id for k in listed.api_keys] == [created.api_key.api_key_id]
    await keys.RevokeApiKey(
        api_key_service_pb2.RevokeApiKeyRequest(api_key_id=created.api_key.api_key_id),
        metadata=owner,
    )
    with pytest.raises(grpc.aio.AioRpcError) as revoked:
        await auth.AuthenticateApiKey(
            auth_service_pb2.AuthenticateApiKeyRequest(api_key=created.secret),
            metadata=MESH_SERVICE,
        )
    assert reason(revoked.value) == "INVALID_API_KEY"


async def test_users_are_managed_within_the_organization(channel: grpc.aio.Channel) -> None:
    orgs = organization_service_pb2_grpc.OrganizationServiceStub(channel)
    created = await orgs.CreateOrganization(sign_up_request(str(uuid.uuid4())))
    owner = bearer((await login(channel)).access_token)
    users = user_service_pb2_grpc.UserServiceStub(channel)

    bob = await users.CreateUser(
        user_service_pb2.CreateUserRequest(
            email="bob@example.com",
            initial_password=PASSWORD,
            roles=[resources_pb2.ROLE_BILLING],
        ),
        metadata=owner,
    )
    listed = await users.ListUsers(user_service_pb2.ListUsersRequest(page_size=1), metadata=owner)
    assert len(listed.users) == 1 and listed.next_page_token
    updated = await users.UpdateUser(
        user_service_pb2.UpdateUserRequest(
            user=resources_pb2.User(user_id=bob.user.user_id, display_name="Robert"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        ),
        metadata=owner,
    )
    assert updated.user.display_name == "Robert"
    assert list(updated.user.roles) == [resources_pb2.ROLE_BILLING]
    renamed = await orgs.UpdateOrganization(
        organization_service_pb2.UpdateOrganizationRequest(
            organization=resources_pb2.Organization(
                organization_id=created.organization.organization_id, display_name="Renamed"
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        ),
        metadata=owner,
    )
    assert renamed.organization.display_name == "Renamed"
    assert renamed.organization.default_currency == "EUR"


async def test_health_reports_each_service(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", "keel.identity.v1.AuthService", "keel.identity.v1.UserService"):
        response = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_rotation_publishes_both_keys(channel: grpc.aio.Channel) -> None:
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)
    before = json.loads((await auth.GetJwks(auth_service_pb2.GetJwksRequest())).data)

    rotated = await admin_service_pb2_grpc.AdminServiceStub(channel).RotateSigningKey(
        admin_service_pb2.RotateSigningKeyRequest(), metadata=MESH_SERVICE
    )

    after = json.loads((await auth.GetJwks(auth_service_pb2.GetJwksRequest())).data)
    assert [k["kid"] for k in before["keys"]] == [rotated.retired_key_id]
    assert {k["kid"] for k in after["keys"]} == {rotated.active_key_id, rotated.retired_key_id}
    assert rotated.HasField("retired_key_unpublish_time")


async def test_api_key_exchange_is_public_and_refuses_dead_keys(
    channel: grpc.aio.Channel, migrated_database_url: str
) -> None:
    orgs = organization_service_pb2_grpc.OrganizationServiceStub(channel)
    await orgs.CreateOrganization(sign_up_request(str(uuid.uuid4())))
    owner = bearer((await login(channel)).access_token)
    keys = api_key_service_pb2_grpc.ApiKeyServiceStub(channel)
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)

    async def create(name: str) -> api_key_service_pb2.CreateApiKeyResponse:
        return await keys.CreateApiKey(
            api_key_service_pb2.CreateApiKeyRequest(display_name=name, scopes=["items:read"]),
            metadata=owner,
        )

    created = await create("reader")
    # No principal at all: the key is the credential.
    exchanged = await auth.ExchangeApiKey(
        auth_service_pb2.ExchangeApiKeyRequest(api_key=created.secret)
    )
    claims = jwt.decode(exchanged.access_token, options={"verify_signature": False})
    assert (claims["sub"], claims["kind"], claims["scope"]) == (
        created.api_key.api_key_id,
        "api_key",
        "items:read",
    )
    assert exchanged.token_type == "Bearer" and 0 < exchanged.expires_in <= 300
    assert exchanged.api_key_id == created.api_key.api_key_id
    assert list(exchanged.scopes) == ["items:read"]
    listed = await keys.ListApiKeys(api_key_service_pb2.ListApiKeysRequest(), metadata=owner)
    assert listed.api_keys[0].HasField("last_used_time")

    revoked = await create("revoked")
    await keys.RevokeApiKey(
        api_key_service_pb2.RevokeApiKeyRequest(api_key_id=revoked.api_key.api_key_id),
        metadata=owner,
    )
    expired = await create("expired")
    with psycopg.connect(migrated_database_url) as conn:
        # The key's organization (row-level security shows the runtime role no other).
        conn.execute("SELECT set_config('keel.org_id', %s, true)", (claims["org"],))
        conn.execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = %s",
            (expired.api_key.api_key_id,),
        )
    messages = set()
    for presented in (revoked.secret, expired.secret, "keel_garbage"):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await auth.ExchangeApiKey(auth_service_pb2.ExchangeApiKeyRequest(api_key=presented))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert reason(refused.value) == "INVALID_API_KEY"
        messages.add(refused.value.details())
    assert len(messages) == 1

    with pytest.raises(grpc.aio.AioRpcError) as empty:
        await auth.ExchangeApiKey(auth_service_pb2.ExchangeApiKeyRequest(api_key=""))
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("scope", "says"),
    [
        ("billing:admin", "platform scope"),
        ("identity:admin", "platform scope"),
        ("billing:everything", "unknown"),
        ("read", "unknown"),
    ],
)
async def test_api_keys_carry_only_declared_tenant_scopes(
    channel: grpc.aio.Channel, scope: str, says: str
) -> None:
    orgs = organization_service_pb2_grpc.OrganizationServiceStub(channel)
    await orgs.CreateOrganization(sign_up_request(str(uuid.uuid4())))
    owner = bearer((await login(channel)).access_token)
    keys = api_key_service_pb2_grpc.ApiKeyServiceStub(channel)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await keys.CreateApiKey(
            api_key_service_pb2.CreateApiKeyRequest(
                display_name="escalate", scopes=["items:read", scope]
            ),
            metadata=owner,
        )

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(refused.value) == "INVALID_SCOPE"
    assert f"scope {scope!r}" in (refused.value.details() or "") and says in refused.value.details()
    listed = await keys.ListApiKeys(api_key_service_pb2.ListApiKeysRequest(), metadata=owner)
    assert list(listed.api_keys) == []
