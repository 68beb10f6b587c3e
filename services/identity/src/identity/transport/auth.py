"""Servicer of keel.identity.v1.AuthService."""

from __future__ import annotations

import json
from datetime import timedelta

import grpc
from google.api import httpbody_pb2
from keel.identity.v1 import (
    auth_service_pb2,
    auth_service_pb2_grpc,
)

from identity.app.handlers import Handlers
from identity.domain.errors import TooManyLoginAttempts
from identity.transport import mapping
from identity.transport.calls import Context
from identity.transport.client_address import ClientAddress
from keel_runtime.caller import current_caller
from keel_runtime.interceptors.status import error_domain, rich_status


class AuthServicer(auth_service_pb2_grpc.AuthServiceServicer):  # type: ignore[misc]
    def __init__(self, handlers: Handlers, client_address: ClientAddress) -> None:
        self._h = handlers
        self._client_address = client_address

    async def Login(
        self, request: auth_service_pb2.LoginRequest, context: Context
    ) -> auth_service_pb2.LoginResponse:
        try:
            grant = await self._h.auth.login(
                mapping.login(request, self._client_address.of(context))
            )
        except TooManyLoginAttempts as refused:
            await context.abort_with_status(throttled_status(refused))
        return auth_service_pb2.LoginResponse(grant=mapping.token_grant(grant))

    async def RefreshToken(
        self, request: auth_service_pb2.RefreshTokenRequest, context: Context
    ) -> auth_service_pb2.RefreshTokenResponse:
        grant = await self._h.auth.refresh(mapping.refresh_session(request))
        return auth_service_pb2.RefreshTokenResponse(grant=mapping.token_grant(grant))

    async def Logout(
        self, request: auth_service_pb2.LogoutRequest, context: Context
    ) -> auth_service_pb2.LogoutResponse:
        await self._h.auth.logout(mapping.logout(request, current_caller()))
        return auth_service_pb2.LogoutResponse()

    async def GetJwks(
        self, request: auth_service_pb2.GetJwksRequest, context: Context
    ) -> httpbody_pb2.HttpBody:
        jwks = await self._h.auth.jwks()
        return httpbody_pb2.HttpBody(
            content_type="application/json",
            data=json.dumps(jwks, separators=(",", ":")).encode(),
        )

    async def IntrospectToken(
        self, request: auth_service_pb2.IntrospectTokenRequest, context: Context
    ) -> auth_service_pb2.IntrospectTokenResponse:
        result = await self._h.auth.introspect(mapping.introspect_token(request, current_caller()))
        return mapping.introspection(result)

    async def AuthenticateApiKey(
        self, request: auth_service_pb2.AuthenticateApiKeyRequest, context: Context
    ) -> auth_service_pb2.AuthenticateApiKeyResponse:
        result = await self._h.api_keys.authenticate(
            mapping.authenticate_api_key(request, current_caller())
        )
        return mapping.api_key_authentication(result)

    async def ExchangeApiKey(
        self, request: auth_service_pb2.ExchangeApiKeyRequest, context: Context
    ) -> auth_service_pb2.ExchangeApiKeyResponse:
        result = await self._h.api_keys.exchange(mapping.exchange_api_key(request))
        return mapping.api_key_exchange(result)


def throttled_status(refused: TooManyLoginAttempts) -> grpc.Status:
    """RESOURCE_EXHAUSTED that says when to come back: google.rpc.RetryInfo in the status,
    and ``retry-after`` (seconds) in the trailers for clients that read no details."""
    status = rich_status(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        refused.message,
        reason=refused.reason,
        domain=error_domain("identity"),
        metadata=refused.metadata,
        retry_delay=timedelta(seconds=refused.retry_after_seconds),
    )
    trailers = (*status.trailing_metadata, ("retry-after", str(refused.retry_after_seconds)))
    return status._replace(trailing_metadata=trailers)
