"""keel.billing.v1.WebhookService servicer."""

from __future__ import annotations

from typing import Any

from keel.billing.v1 import webhook_service_pb2 as pb
from keel.billing.v1 import webhook_service_pb2_grpc

from billing import contract
from billing.app.webhooks import WebhookHandlers
from billing.transport import mapping
from keel_runtime.caller import current_caller


class WebhookServicer(webhook_service_pb2_grpc.WebhookServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: WebhookHandlers) -> None:
        self._handlers = handlers

    async def CreateWebhookEndpoint(
        self, request: pb.CreateWebhookEndpointRequest, context: Any
    ) -> pb.CreateWebhookEndpointResponse:
        created, secret = await self._handlers.create(
            mapping.create_webhook_endpoint(request, current_caller())
        )
        return pb.CreateWebhookEndpointResponse(
            webhook_endpoint=contract.webhook_to_proto(created), signing_secret=secret
        )

    async def ListWebhookEndpoints(
        self, request: pb.ListWebhookEndpointsRequest, context: Any
    ) -> pb.ListWebhookEndpointsResponse:
        page = await self._handlers.list(mapping.list_webhook_endpoints(request, current_caller()))
        return pb.ListWebhookEndpointsResponse(
            webhook_endpoints=[contract.webhook_to_proto(w) for w in page.endpoints],
            next_page_token=page.next_page_token,
        )

    async def DeleteWebhookEndpoint(
        self, request: pb.DeleteWebhookEndpointRequest, context: Any
    ) -> pb.DeleteWebhookEndpointResponse:
        await self._handlers.delete(mapping.delete_webhook_endpoint(request, current_caller()))
        return pb.DeleteWebhookEndpointResponse()

    async def ListWebhookDeliveries(
        self, request: pb.ListWebhookDeliveriesRequest, context: Any
    ) -> pb.ListWebhookDeliveriesResponse:
        page = await self._handlers.list_deliveries(
            mapping.list_webhook_deliveries(request, current_caller())
        )
        return pb.ListWebhookDeliveriesResponse(
            deliveries=[contract.delivery_to_proto(d) for d in page.deliveries],
            next_page_token=page.next_page_token,
        )

    async def RedeliverWebhook(
        self, request: pb.RedeliverWebhookRequest, context: Any
    ) -> pb.RedeliverWebhookResponse:
        record = await self._handlers.redeliver(
            mapping.redeliver_webhook(request, current_caller())
        )
        return pb.RedeliverWebhookResponse(delivery=contract.delivery_to_proto(record))
