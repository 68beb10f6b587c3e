"""The runtime around a generated keel service: registration, principal and protovalidate."""

from __future__ import annotations

from typing import Any

import grpc
import protovalidate
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from keel_runtime import context
from keel_runtime.interceptors.validation import to_field_violation
from keel_runtime.server import ServiceSpec, start
from keel_runtime.settings import ServerSettings

org_pb2 = pytest.importorskip("keel.identity.v1.organization_service_pb2")
org_grpc = pytest.importorskip("keel.identity.v1.organization_service_pb2_grpc")

SERVICE = "keel.identity.v1.OrganizationService"
CREATE = f"/{SERVICE}/CreateOrganization"


OrganizationServiceServicer: Any = org_grpc.OrganizationServiceServicer


class Organizations(OrganizationServiceServicer):  # type: ignore[misc]
    async def CreateOrganization(self, request: Any, ctx: Any) -> Any:
        return org_pb2.CreateOrganizationResponse()

    async def GetOrganization(self, request: Any, ctx: Any) -> Any:
        context.require_principal()
        return org_pb2.GetOrganizationResponse()


@pytest.fixture
async def stub() -> Any:
    spec = ServiceSpec(
        name="identity",
        servicers=[(org_grpc.add_OrganizationServiceServicer_to_server, Organizations())],
        service_names=[SERVICE],
        public_methods=[CREATE],
    )
    running = await start(spec, ServerSettings(bind="127.0.0.1:0"))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    yield org_grpc.OrganizationServiceStub(channel)
    await channel.close()
    await running.stop(0)


async def test_generated_request_is_validated(stub: Any) -> None:
    request = org_pb2.CreateOrganizationRequest(owner_email="not-an-email")
    expected = {
        to_field_violation(v.proto).field for v in protovalidate.collect_violations(request)
    }
    assert expected, "the contract declares rules for an empty organization"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateOrganization(request, timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    bad_request = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad_request) for d in status.details)
    assert {v.field for v in bad_request.field_violations} == expected
    assert "owner_email" in expected


async def test_generated_method_refuses_anonymous_calls(stub: Any) -> None:
    request = org_pb2.GetOrganizationRequest(organization_id="0b9e8c1e-3f0d-4c55-9d7e-0d8f4b1d2a11")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetOrganization(request, timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
