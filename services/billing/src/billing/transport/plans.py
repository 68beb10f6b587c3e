"""keel.billing.v1.PlanService servicer."""

from __future__ import annotations

from typing import Any

from keel.billing.v1 import plan_service_pb2 as pb
from keel.billing.v1 import plan_service_pb2_grpc

from billing import contract
from billing.app.plans import PlanHandlers
from billing.transport import mapping
from keel_runtime.caller import current_caller


class PlanServicer(plan_service_pb2_grpc.PlanServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: PlanHandlers) -> None:
        self._handlers = handlers

    async def CreatePlan(
        self, request: pb.CreatePlanRequest, context: Any
    ) -> pb.CreatePlanResponse:
        plan = await self._handlers.create(mapping.create_plan(request, current_caller()))
        return pb.CreatePlanResponse(plan=contract.plan_to_proto(plan))

    async def GetPlan(self, request: pb.GetPlanRequest, context: Any) -> pb.GetPlanResponse:
        plan = await self._handlers.get(mapping.get_plan(request, current_caller()))
        return pb.GetPlanResponse(plan=contract.plan_to_proto(plan))

    async def ListPlans(self, request: pb.ListPlansRequest, context: Any) -> pb.ListPlansResponse:
        page = await self._handlers.list(mapping.list_plans(request, current_caller()))
        return pb.ListPlansResponse(
            plans=[contract.plan_to_proto(p) for p in page.plans],
            next_page_token=page.next_page_token,
        )

    async def ArchivePlan(
        self, request: pb.ArchivePlanRequest, context: Any
    ) -> pb.ArchivePlanResponse:
        plan = await self._handlers.archive(mapping.archive_plan(request, current_caller()))
        return pb.ArchivePlanResponse(plan=contract.plan_to_proto(plan))
