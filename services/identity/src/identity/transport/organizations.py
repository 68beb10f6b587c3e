"""Servicer of keel.identity.v1.OrganizationService."""

from __future__ import annotations

from keel.identity.v1 import (
    organization_service_pb2,
    organization_service_pb2_grpc,
)

from identity import contract
from identity.app import commands
from identity.app.handlers import Handlers
from identity.transport.calls import Context
from keel_runtime.caller import current_caller


class OrganizationServicer(organization_service_pb2_grpc.OrganizationServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: Handlers) -> None:
        self._h = handlers

    async def CreateOrganization(
        self, request: organization_service_pb2.CreateOrganizationRequest, context: Context
    ) -> organization_service_pb2.CreateOrganizationResponse:
        result = await self._h.create_organization(
            commands.CreateOrganization(
                display_name=request.display_name,
                owner_email=request.owner_email,
                owner_password=request.owner_password,
                owner_display_name=request.owner_display_name,
                default_currency=request.default_currency,
                request_id=request.request_id,
            )
        )
        return organization_service_pb2.CreateOrganizationResponse(
            organization=contract.organization(result.organization),
            owner=contract.user(result.owner),
        )

    async def GetOrganization(
        self, request: organization_service_pb2.GetOrganizationRequest, context: Context
    ) -> organization_service_pb2.GetOrganizationResponse:
        org = await self._h.get_organization(
            commands.GetOrganization(
                caller=current_caller(), organization_id=request.organization_id
            )
        )
        return organization_service_pb2.GetOrganizationResponse(
            organization=contract.organization(org)
        )

    async def UpdateOrganization(
        self, request: organization_service_pb2.UpdateOrganizationRequest, context: Context
    ) -> organization_service_pb2.UpdateOrganizationResponse:
        org = await self._h.update_organization(
            commands.UpdateOrganization(
                caller=current_caller(),
                organization_id=request.organization.organization_id,
                fields=frozenset(request.update_mask.paths),
                display_name=request.organization.display_name,
                default_currency=request.organization.default_currency,
            )
        )
        return organization_service_pb2.UpdateOrganizationResponse(
            organization=contract.organization(org)
        )
