"""keel.billing.v1.UsageService servicer."""

from __future__ import annotations

from typing import Any

from keel.billing.v1 import usage_service_pb2 as pb
from keel.billing.v1 import usage_service_pb2_grpc

from billing import contract
from billing.app.usage import UsageHandlers
from billing.transport import mapping
from keel_runtime.caller import current_caller
from keel_runtime.timestamps import timestamp


class UsageServicer(usage_service_pb2_grpc.UsageServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: UsageHandlers) -> None:
        self._handlers = handlers

    async def RecordUsage(
        self, request: pb.RecordUsageRequest, context: Any
    ) -> pb.RecordUsageResponse:
        record, duplicate = await self._handlers.record(
            mapping.record_usage(request, current_caller())
        )
        return pb.RecordUsageResponse(
            usage_record=contract.usage_record_to_proto(record), duplicate=duplicate
        )

    async def RecordUsageBatch(
        self, request: pb.RecordUsageBatchRequest, context: Any
    ) -> pb.RecordUsageBatchResponse:
        recorded, duplicates = await self._handlers.record_batch(
            mapping.record_usage_batch(request, current_caller())
        )
        return pb.RecordUsageBatchResponse(recorded_count=recorded, duplicate_count=duplicates)

    async def GetUsageSummary(
        self, request: pb.GetUsageSummaryRequest, context: Any
    ) -> pb.GetUsageSummaryResponse:
        summary = await self._handlers.summary(mapping.usage_summary(request, current_caller()))
        return pb.GetUsageSummaryResponse(
            start_time=timestamp(summary.start),
            end_time=timestamp(summary.end),
            metrics=[contract.metric_usage_to_proto(m) for m in summary.metrics],
        )
