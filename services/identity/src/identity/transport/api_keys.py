"""Servicer of keel.identity.v1.ApiKeyService."""

from __future__ import annotations

from keel.identity.v1 import (
    api_key_service_pb2,
    api_key_service_pb2_grpc,
)

from identity import contract
from identity.app.handlers import Handlers
from identity.app.ports import Clock
from identity.transport import mapping
from identity.transport.calls import Context
from keel_runtime.caller import current_caller


class ApiKeyServicer(api_key_service_pb2_grpc.ApiKeyServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: Handlers, clock: Clock) -> None:
        self._h = handlers
        self._clock = clock

    async def CreateApiKey(
        self, request: api_key_service_pb2.CreateApiKeyRequest, context: Context
    ) -> api_key_service_pb2.CreateApiKeyResponse:
        result = await self._h.api_keys.create(mapping.create_api_key(request, current_caller()))
        return api_key_service_pb2.CreateApiKeyResponse(
            api_key=contract.api_key(result.api_key, self._clock.now()), secret=result.secret
        )

    async def ListApiKeys(
        self, request: api_key_service_pb2.ListApiKeysRequest, context: Context
    ) -> api_key_service_pb2.ListApiKeysResponse:
        keys, token = await self._h.api_keys.list(mapping.list_api_keys(request, current_caller()))
        now = self._clock.now()
        return api_key_service_pb2.ListApiKeysResponse(
            api_keys=[contract.api_key(k, now) for k in keys], next_page_token=token
        )

    async def RevokeApiKey(
        self, request: api_key_service_pb2.RevokeApiKeyRequest, context: Context
    ) -> api_key_service_pb2.RevokeApiKeyResponse:
        key = await self._h.api_keys.revoke(mapping.revoke_api_key(request, current_caller()))
        return api_key_service_pb2.RevokeApiKeyResponse(
            api_key=contract.api_key(key, self._clock.now())
        )
