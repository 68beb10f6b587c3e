"""Sign up, log in, verify the JWT against the JWKS, then call as the logged-in user."""

from __future__ import annotations

import json
import uuid

import grpc
import jwt
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from keel.identity.v1 import (
    auth_service_pb2,
    auth_service_pb2_grpc,
    organization_service_pb2,
    organization_service_pb2_grpc,
    user_service_pb2,
    user_service_pb2_grpc,
)

from .conftest import bearer

PASSWORD = "correct horse battery"


async def sign_up(
    channel: grpc.aio.Channel, email: str
) -> organization_service_pb2.CreateOrganizationResponse:
    stub = organization_service_pb2_grpc.OrganizationServiceStub(channel)
    return await stub.CreateOrganization(
        organization_service_pb2.CreateOrganizationRequest(
            request_id=str(uuid.uuid4()),
            display_name="Analytical Engines",
            owner_email=email,
            owner_password=PASSWORD,
        )
    )


async def test_sign_up_login_and_call_as_the_user(channel: grpc.aio.Channel) -> None:
    created = await sign_up(channel, "ada@example.com")
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)

    login = await auth.Login(
        auth_service_pb2.LoginRequest(email="ada@example.com", password=PASSWORD)
    )
    jwks = await auth.GetJwks(auth_service_pb2.GetJwksRequest())
    assert jwks.content_type == "application/json"
    key_set = jwt.PyJWKSet.from_dict(json.loads(jwks.data))
    kid = jwt.get_unverified_header(login.grant.access_token)["kid"]
    key = next(k for k in key_set.keys if k.key_id == kid)
    claims = jwt.decode(
        login.grant.access_token,
        key,
        algorithms=["EdDSA"],
        audience="keel",
        issuer="keel-identity",
    )
    assert claims["sub"] == created.owner.user_id
    assert claims["org"] == created.organization.organization_id
    assert claims["roles"] == ["OWNER"]

    md = bearer(login.grant.access_token)  # the gateway forwards it; identity verifies it
    users = user_service_pb2_grpc.UserServiceStub(channel)
    me = await users.GetCurrentUser(user_service_pb2.GetCurrentUserRequest(), metadata=md)
    assert me.user.user_id == created.owner.user_id
    assert me.user.email == "ada@example.com"
    orgs = organization_service_pb2_grpc.OrganizationServiceStub(channel)
    org = await orgs.GetOrganization(
        organization_service_pb2.GetOrganizationRequest(
            organization_id=created.organization.organization_id
        ),
        metadata=md,
    )
    assert org.organization.default_currency == "USD"


async def test_wrong_password_carries_error_info(channel: grpc.aio.Channel) -> None:
    await sign_up(channel, "grace@example.com")
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await auth.Login(
            auth_service_pb2.LoginRequest(email="grace@example.com", password="not it at all")
        )

    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    status = rpc_status.from_call(caught.value)
    assert status is not None
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    assert (info.reason, info.domain) == ("INVALID_CREDENTIALS", "identity.keel")


async def test_protected_method_needs_a_principal(channel: grpc.aio.Channel) -> None:
    users = user_service_pb2_grpc.UserServiceStub(channel)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await users.GetCurrentUser(user_service_pb2.GetCurrentUserRequest())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_invalid_sign_up_is_rejected_by_validation(channel: grpc.aio.Channel) -> None:
    stub = organization_service_pb2_grpc.OrganizationServiceStub(channel)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateOrganization(
            organization_service_pb2.CreateOrganizationRequest(
                display_name="x", owner_email="not-an-email", owner_password="short"
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
