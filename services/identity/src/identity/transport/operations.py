"""Servicers for operators: keel.identity.v1.AuditService and AdminService."""

from __future__ import annotations

from keel.identity.v1 import (
    admin_service_pb2,
    admin_service_pb2_grpc,
    audit_service_pb2,
    audit_service_pb2_grpc,
)

from identity import contract
from identity.app.handlers import Handlers
from identity.transport import mapping
from identity.transport.calls import Context
from keel_runtime.caller import current_caller
from keel_runtime.timestamps import timestamp


class AuditServicer(audit_service_pb2_grpc.AuditServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: Handlers) -> None:
        self._h = handlers

    async def ListAuditEvents(
        self, request: audit_service_pb2.ListAuditEventsRequest, context: Context
    ) -> audit_service_pb2.ListAuditEventsResponse:
        entries, token = await self._h.audit.list(
            mapping.list_audit_events(request, current_caller())
        )
        return audit_service_pb2.ListAuditEventsResponse(
            audit_events=[contract.audit_event(e) for e in entries], next_page_token=token
        )


class AdminServicer(admin_service_pb2_grpc.AdminServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: Handlers) -> None:
        self._h = handlers

    async def RotateSigningKey(
        self, request: admin_service_pb2.RotateSigningKeyRequest, context: Context
    ) -> admin_service_pb2.RotateSigningKeyResponse:
        rotation = await self._h.auth.rotate_signing_key(
            mapping.rotate_signing_key(request, current_caller())
        )
        return admin_service_pb2.RotateSigningKeyResponse(
            active_key_id=rotation.active_key_id,
            retired_key_id=rotation.retired_key_id or "",
            retired_key_unpublish_time=timestamp(rotation.retired_key_unpublish_at),
            active_key_sign_time=timestamp(rotation.active_from),
        )
