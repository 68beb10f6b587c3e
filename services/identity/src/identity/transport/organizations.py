"""Servicer of keel.identity.v1.OrganizationService."""

from __future__ import annotations

from keel.identity.v1 import (
    organization_service_pb2,
    organization_service_pb2_grpc,
)

from identity import contract
from identity.app.handlers import Handlers
from identity.transport import mapping
from identity.transport.calls import Context
from keel_runtime.caller import current_caller


class OrganizationServicer(organization_service_pb2_grpc.OrganizationServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: Handlers) -> None:
        self._h = handlers

    async def CreateOrganization(
        self, request: organization_service_pb2.CreateOrganizationRequest, context: Context
    ) -> organization_service_pb2.CreateOrganizationResponse:
        result = await self._h.organizations.create(mapping.create_organization(request))
        return organization_service_pb2.CreateOrganizationResponse(
            organization=contract.organization(result.organization),
            owner=contract.user(result.owner),
        )

    async def GetOrganization(
        self, request: organization_service_pb2.GetOrganizationRequest, context: Context
    ) -> organization_service_pb2.GetOrganizationResponse:
        org = await self._h.organizations.get(mapping.get_organization(request, current_caller()))
        return organization_service_pb2.GetOrganizationResponse(
            organization=contract.organization(org)
        )

    async def UpdateOrganization(
        self, request: organization_service_pb2.UpdateOrganizationRequest, context: Context
    ) -> organization_service_pb2.UpdateOrganizationResponse:
        org = await self._h.organizations.update(
            mapping.update_organization(request, current_caller())
        )
        return organization_service_pb2.UpdateOrganizationResponse(
            organization=contract.organization(org)
        )
