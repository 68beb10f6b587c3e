"""Login throttling over gRPC with Redis: an address that must wait answers RESOURCE_EXHAUSTED."""

from __future__ import annotations

import dataclasses
import uuid

import grpc
import pytest
from keel.identity.v1 import (
    auth_service_pb2,
    auth_service_pb2_grpc,
    organization_service_pb2,
    organization_service_pb2_grpc,
)

from identity.adapters.throttle import ThrottlePolicy
from identity.config import IdentityConfig


@pytest.fixture
def config(migrated_database_url: str, redis_url: str) -> IdentityConfig:
    return dataclasses.replace(
        IdentityConfig(database_url=migrated_database_url),
        redis_url=redis_url,
        login_throttle=ThrottlePolicy(free_failures=2),
    )


async def test_address_waits_after_repeated_failures_on_an_account(
    channel: grpc.aio.Channel,
) -> None:
    email = f"{uuid.uuid4().hex}@example.com"
    await organization_service_pb2_grpc.OrganizationServiceStub(channel).CreateOrganization(
        organization_service_pb2.CreateOrganizationRequest(
            display_name="Engines", owner_email=email, owner_password="correct horse battery"
        )
    )
    auth = auth_service_pb2_grpc.AuthServiceStub(channel)
    # As the gateway would send it; a fresh address keeps runs apart in the shared Redis.
    address = (("x-envoy-external-address", f"203.0.113.7-{uuid.uuid4().hex}"),)
    codes = []
    for password in ("wrong one", "wrong two", "correct horse battery"):
        try:
            await auth.Login(
                auth_service_pb2.LoginRequest(email=email, password=password), metadata=address
            )
            codes.append(grpc.StatusCode.OK)
        except grpc.aio.AioRpcError as error:
            codes.append(error.code())

    assert codes == [
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ]
