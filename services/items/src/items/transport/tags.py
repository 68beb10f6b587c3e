"""TagService servicer: protobuf -> command -> handler -> protobuf."""

from __future__ import annotations

import grpc
from keel.items.v1 import tag_service_pb2, tag_service_pb2_grpc

from items import contract
from items.app import commands
from items.app.tags import TagHandlers
from items.transport import mapping
from keel_runtime.caller import Caller
from keel_runtime.context import require_principal


def _caller() -> Caller:
    return mapping.caller(require_principal())


class TagServicer(tag_service_pb2_grpc.TagServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: TagHandlers) -> None:
        self._handlers = handlers

    async def ListTags(
        self, request: tag_service_pb2.ListTagsRequest, context: grpc.aio.ServicerContext
    ) -> tag_service_pb2.ListTagsResponse:
        page = await self._handlers.list_tags(mapping.list_tags(request, _caller()))
        return tag_service_pb2.ListTagsResponse(
            tags=[contract.tag_to_proto(tag) for tag in page.tags],
            next_page_token=page.next_page_token,
        )

    async def CreateTag(
        self, request: tag_service_pb2.CreateTagRequest, context: grpc.aio.ServicerContext
    ) -> tag_service_pb2.CreateTagResponse:
        tag = await self._handlers.create_tag(mapping.create_tag(request, _caller()))
        return tag_service_pb2.CreateTagResponse(tag=contract.tag_to_proto(tag))

    async def RenameTag(
        self, request: tag_service_pb2.RenameTagRequest, context: grpc.aio.ServicerContext
    ) -> tag_service_pb2.RenameTagResponse:
        command = commands.RenameTag(_caller(), mapping.tag_id(request.tag_id), request.new_name)
        tag = await self._handlers.rename_tag(command)
        return tag_service_pb2.RenameTagResponse(tag=contract.tag_to_proto(tag))

    async def DeleteTag(
        self, request: tag_service_pb2.DeleteTagRequest, context: grpc.aio.ServicerContext
    ) -> tag_service_pb2.DeleteTagResponse:
        await self._handlers.delete_tag(
            commands.DeleteTag(_caller(), mapping.tag_id(request.tag_id))
        )
        return tag_service_pb2.DeleteTagResponse()
