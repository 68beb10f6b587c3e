"""Request messages -> commands (with the call's caller), and handler results ->
keel.identity.v1 response messages; resources convert in identity.contract."""

from __future__ import annotations

from keel.identity.v1 import (
    admin_service_pb2,
    api_key_service_pb2,
    audit_service_pb2,
    auth_service_pb2,
    organization_service_pb2,
    resources_pb2,
    user_service_pb2,
)

from identity import contract
from identity.app import commands
from identity.app.api_keys import ApiKeyAuthentication
from identity.app.auth import Introspection
from identity.app.sessions import TokenGrant
from keel_runtime.caller import Caller
from keel_runtime.timestamps import field_time, timestamp


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


# Requests -> commands.


def create_organization(
    request: organization_service_pb2.CreateOrganizationRequest,
) -> commands.CreateOrganization:
    return commands.CreateOrganization(
        display_name=request.display_name,
        owner_email=request.owner_email,
        owner_password=request.owner_password,
        owner_display_name=request.owner_display_name,
        default_currency=request.default_currency,
        request_id=request.request_id,
    )


def get_organization(
    request: organization_service_pb2.GetOrganizationRequest, caller: Caller
) -> commands.GetOrganization:
    return commands.GetOrganization(caller=caller, organization_id=request.organization_id)


def update_organization(
    request: organization_service_pb2.UpdateOrganizationRequest, caller: Caller
) -> commands.UpdateOrganization:
    return commands.UpdateOrganization(
        caller=caller,
        organization_id=request.organization.organization_id,
        fields=frozenset(request.update_mask.paths),
        display_name=request.organization.display_name,
        default_currency=request.organization.default_currency,
    )


def create_user(request: user_service_pb2.CreateUserRequest, caller: Caller) -> commands.CreateUser:
    return commands.CreateUser(
        caller=caller,
        email=request.email,
        initial_password=request.initial_password,
        display_name=request.display_name,
        roles=contract.roles_from_proto(request.roles),
        request_id=request.request_id,
    )


def get_user(request: user_service_pb2.GetUserRequest, caller: Caller) -> commands.GetUser:
    return commands.GetUser(caller=caller, user_id=request.user_id)


def get_current_user(
    request: user_service_pb2.GetCurrentUserRequest, caller: Caller
) -> commands.GetCurrentUser:
    return commands.GetCurrentUser(caller=caller)


def list_users(request: user_service_pb2.ListUsersRequest, caller: Caller) -> commands.ListUsers:
    return commands.ListUsers(
        caller=caller,
        page_size=request.page_size,
        page_token=request.page_token,
        show_deactivated=request.show_deactivated,
    )


def update_user(request: user_service_pb2.UpdateUserRequest, caller: Caller) -> commands.UpdateUser:
    return commands.UpdateUser(
        caller=caller,
        user_id=request.user.user_id,
        fields=frozenset(request.update_mask.paths),
        display_name=request.user.display_name,
        roles=contract.roles_from_proto(request.user.roles),
    )


def deactivate_user(
    request: user_service_pb2.DeactivateUserRequest, caller: Caller
) -> commands.DeactivateUser:
    return commands.DeactivateUser(caller=caller, user_id=request.user_id)


def change_password(
    request: user_service_pb2.ChangePasswordRequest, caller: Caller
) -> commands.ChangePassword:
    return commands.ChangePassword(
        caller=caller,
        current_password=request.current_password,
        new_password=request.new_password,
    )


def login(request: auth_service_pb2.LoginRequest, client_address: str) -> commands.Login:
    return commands.Login(
        email=request.email,
        password=request.password,
        organization_id=request.organization_id,
        client_address=client_address,
    )


def refresh_session(request: auth_service_pb2.RefreshTokenRequest) -> commands.RefreshSession:
    return commands.RefreshSession(refresh_token=request.refresh_token)


def logout(request: auth_service_pb2.LogoutRequest, caller: Caller) -> commands.Logout:
    return commands.Logout(caller=caller, refresh_token=request.refresh_token)


def introspect_token(
    request: auth_service_pb2.IntrospectTokenRequest, caller: Caller
) -> commands.IntrospectToken:
    return commands.IntrospectToken(caller=caller, token=request.token)


def authenticate_api_key(
    request: auth_service_pb2.AuthenticateApiKeyRequest, caller: Caller
) -> commands.AuthenticateApiKey:
    return commands.AuthenticateApiKey(caller=caller, api_key=request.api_key)


def exchange_api_key(request: auth_service_pb2.ExchangeApiKeyRequest) -> commands.ExchangeApiKey:
    return commands.ExchangeApiKey(api_key=request.api_key)


def create_api_key(
    request: api_key_service_pb2.CreateApiKeyRequest, caller: Caller
) -> commands.CreateApiKey:
    return commands.CreateApiKey(
        caller=caller,
        display_name=request.display_name,
        scopes=frozenset(request.scopes),
        roles=contract.roles_from_proto(request.roles),
        expires_at=field_time(request, "expire_time"),
        request_id=request.request_id,
    )


def list_api_keys(
    request: api_key_service_pb2.ListApiKeysRequest, caller: Caller
) -> commands.ListApiKeys:
    return commands.ListApiKeys(
        caller=caller,
        page_size=request.page_size,
        page_token=request.page_token,
        show_inactive=request.show_inactive,
    )


def revoke_api_key(
    request: api_key_service_pb2.RevokeApiKeyRequest, caller: Caller
) -> commands.RevokeApiKey:
    return commands.RevokeApiKey(caller=caller, api_key_id=request.api_key_id)


def list_audit_events(
    request: audit_service_pb2.ListAuditEventsRequest, caller: Caller
) -> commands.ListAuditEvents:
    return commands.ListAuditEvents(
        caller=caller,
        page_size=request.page_size,
        page_token=request.page_token,
        action=request.action,
        actor_filter=request.actor,
    )


def rotate_signing_key(
    request: admin_service_pb2.RotateSigningKeyRequest, caller: Caller
) -> commands.RotateSigningKey:
    return commands.RotateSigningKey(caller=caller)
