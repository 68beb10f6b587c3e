"""Handler results -> keel.identity.v1 response messages; resources convert in identity.contract."""

from __future__ import annotations

from keel.identity.v1 import auth_service_pb2, resources_pb2

from identity.app.api_keys import ApiKeyAuthentication
from identity.app.auth import Introspection
from identity.app.sessions import TokenGrant
from identity.contract import timestamp


def token_grant(g: TokenGrant) -> auth_service_pb2.TokenGrant:
    return auth_service_pb2.TokenGrant(
        access_token=g.access_token,
        token_type="Bearer",
        expires_in=g.expires_in,
        access_token_expire_time=timestamp(g.access_expires_at),
        refresh_token=g.refresh_token,
        refresh_token_expire_time=timestamp(g.refresh_expires_at),
        user_id=g.user_id,
        organization_id=g.organization_id,
    )


def introspection(i: Introspection) -> auth_service_pb2.IntrospectTokenResponse:
    if not i.active:
        return auth_service_pb2.IntrospectTokenResponse(active=False)
    return auth_service_pb2.IntrospectTokenResponse(
        active=True,
        principal=resources_pb2.Principal(
            subject=i.subject,
            organization_id=i.organization_id,
            roles=list(i.roles),
            scopes=list(i.scopes),
            kind=i.kind,
        ),
        expire_time=timestamp(i.expires_at),
        token_id=i.token_id,
    )


def api_key_authentication(a: ApiKeyAuthentication) -> auth_service_pb2.AuthenticateApiKeyResponse:
    key = a.api_key
    return auth_service_pb2.AuthenticateApiKeyResponse(
        principal=resources_pb2.Principal(
            subject=key.id,
            organization_id=key.organization_id,
            roles=sorted(key.roles),
            scopes=sorted(key.scopes),
            kind="api_key",
        ),
        access_token=a.access_token,
        access_token_expire_time=timestamp(a.access_expires_at),
    )


def api_key_exchange(a: ApiKeyAuthentication) -> auth_service_pb2.ExchangeApiKeyResponse:
    key = a.api_key
    return auth_service_pb2.ExchangeApiKeyResponse(
        access_token=a.access_token,
        token_type="Bearer",
        expires_in=a.expires_in,
        access_token_expire_time=timestamp(a.access_expires_at),
        api_key_id=key.id,
        organization_id=key.organization_id,
        scopes=sorted(key.scopes),
    )
