"""ItemService servicer: protobuf -> command -> handler -> protobuf."""

from __future__ import annotations

import grpc
from keel.items.v1 import item_service_pb2, item_service_pb2_grpc

from items import contract
from items.app import commands
from items.app.items import ItemHandlers
from items.transport import mapping
from keel_runtime.caller import Caller
from keel_runtime.context import require_principal


def _caller() -> Caller:
    return mapping.caller(require_principal())


class ItemServicer(item_service_pb2_grpc.ItemServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: ItemHandlers) -> None:
        self._handlers = handlers

    async def CreateItem(
        self, request: item_service_pb2.CreateItemRequest, context: grpc.aio.ServicerContext
    ) -> item_service_pb2.CreateItemResponse:
        item = await self._handlers.create_item(mapping.create_item(request, _caller()))
        return item_service_pb2.CreateItemResponse(item=contract.item_to_proto(item))

    async def GetItem(
        self, request: item_service_pb2.GetItemRequest, context: grpc.aio.ServicerContext
    ) -> item_service_pb2.GetItemResponse:
        item = await self._handlers.get_item(_caller(), mapping.item_id(request.item_id))
        return item_service_pb2.GetItemResponse(item=contract.item_to_proto(item))

    async def ListItems(
        self, request: item_service_pb2.ListItemsRequest, context: grpc.aio.ServicerContext
    ) -> item_service_pb2.ListItemsResponse:
        page = await self._handlers.list_items(mapping.list_items(request, _caller()))
        return item_service_pb2.ListItemsResponse(
            items=[contract.item_to_proto(item) for item in page.items],
            next_page_token=page.next_page_token,
        )

    async def UpdateItem(
        self, request: item_service_pb2.UpdateItemRequest, context: grpc.aio.ServicerContext
    ) -> item_service_pb2.UpdateItemResponse:
        item = await self._handlers.update_item(mapping.update_item(request, _caller()))
        return item_service_pb2.UpdateItemResponse(item=contract.item_to_proto(item))

    async def ConfirmItem(
        self, request: item_service_pb2.ConfirmItemRequest, context: grpc.aio.ServicerContext
    ) -> item_service_pb2.ConfirmItemResponse:
        command = commands.ChangeState(_caller(), mapping.item_id(request.item_id))
        item = await self._handlers.confirm_item(command)
        return item_service_pb2.ConfirmItemResponse(item=contract.item_to_proto(item))

    async def DiscardItem(
        self, request: item_service_pb2.DiscardItemRequest, context: grpc.aio.ServicerContext
    ) -> item_service_pb2.DiscardItemResponse:
        command = commands.ChangeState(_caller(), mapping.item_id(request.item_id))
        item = await self._handlers.discard_item(command)
        return item_service_pb2.DiscardItemResponse(item=contract.item_to_proto(item))

    async def RetryEnrichment(
        self,
        request: item_service_pb2.RetryEnrichmentRequest,
        context: grpc.aio.ServicerContext,
    ) -> item_service_pb2.RetryEnrichmentResponse:
        command = commands.ChangeState(_caller(), mapping.item_id(request.item_id))
        item = await self._handlers.retry_enrichment(command)
        return item_service_pb2.RetryEnrichmentResponse(item=contract.item_to_proto(item))
