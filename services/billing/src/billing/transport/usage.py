"""keel.billing.v1.UsageService servicer."""

from __future__ import annotations

from typing import Any

from keel.billing.v1 import usage_service_pb2 as pb
from keel.billing.v1 import usage_service_pb2_grpc

from billing import contract
from billing.app.usage import UsageHandlers
from billing.transport import mapping
from keel_runtime.caller import current_caller


class UsageServicer(usage_service_pb2_grpc.UsageServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: UsageHandlers) -> None:
        self._handlers = handlers

    async def RecordUsage(
        self, request: pb.RecordUsageRequest, context: Any
    ) -> pb.RecordUsageResponse:
        record, duplicate = await self._handlers.record(
            current_caller(), mapping.usage_input(request.usage)
        )
        return pb.RecordUsageResponse(
            usage_record=contract.usage_record_to_proto(record), duplicate=duplicate
        )

    async def RecordUsageBatch(
        self, request: pb.RecordUsageBatchRequest, context: Any
    ) -> pb.RecordUsageBatchResponse:
        recorded, duplicates = await self._handlers.record_batch(
            current_caller(), [mapping.usage_input(u) for u in request.usages]
        )
        return pb.RecordUsageBatchResponse(recorded_count=recorded, duplicate_count=duplicates)

    async def GetUsageSummary(
        self, request: pb.GetUsageSummaryRequest, context: Any
    ) -> pb.GetUsageSummaryResponse:
        summary = await self._handlers.summary(
            current_caller(),
            metrics=list(request.metrics),
            start=contract.from_ts(request.start_time) if request.HasField("start_time") else None,
            end=contract.from_ts(request.end_time) if request.HasField("end_time") else None,
            aggregation=contract.aggregation(request.aggregation),
        )
        return pb.GetUsageSummaryResponse(
            start_time=contract.ts(summary.start),
            end_time=contract.ts(summary.end),
            metrics=[contract.metric_usage_to_proto(m) for m in summary.metrics],
        )
