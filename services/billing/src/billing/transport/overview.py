"""keel.billing.v1.BillingOverviewService servicer."""

from __future__ import annotations

from typing import Any

from keel.billing.v1 import billing_overview_service_pb2 as pb
from keel.billing.v1 import billing_overview_service_pb2_grpc

from billing.app.overview import OverviewHandlers
from billing.transport import mapping
from keel_runtime.caller import current_caller


class BillingOverviewServicer(billing_overview_service_pb2_grpc.BillingOverviewServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: OverviewHandlers) -> None:
        self._handlers = handlers

    async def GetBillingOverview(
        self, request: pb.GetBillingOverviewRequest, context: Any
    ) -> pb.GetBillingOverviewResponse:
        overview = await self._handlers.get(mapping.billing_overview(request, current_caller()))
        return pb.GetBillingOverviewResponse(overview=mapping.overview_to_proto(overview))
