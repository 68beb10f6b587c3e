"""All handlers of the service, built once in bootstrap and handed to the servicers."""

from __future__ import annotations

from dataclasses import dataclass

from identity.app.api_keys import (
    ApiKeyVerifier,
    AuthenticateApiKeyHandler,
    CreateApiKeyHandler,
    ListApiKeysHandler,
    RevokeApiKeyHandler,
)
from identity.app.audit import ListAuditEventsHandler
from identity.app.auth import (
    GetJwksHandler,
    IntrospectTokenHandler,
    LoginHandler,
    LogoutHandler,
    RefreshTokenHandler,
    RotateSigningKeyHandler,
)
from identity.app.organizations import (
    CreateOrganizationHandler,
    GetOrganizationHandler,
    UpdateOrganizationHandler,
)
from identity.app.ports import (
    Clock,
    LoginThrottle,
    PasswordHasher,
    TokenService,
    UnitOfWorkFactory,
)
from identity.app.sessions import SessionIssuer, SessionPolicy
from identity.app.users import (
    ChangePasswordHandler,
    CreateUserHandler,
    DeactivateUserHandler,
    GetCurrentUserHandler,
    GetUserHandler,
    ListUsersHandler,
    UpdateUserHandler,
)


@dataclass(frozen=True)
class Handlers:
    create_organization: CreateOrganizationHandler
    get_organization: GetOrganizationHandler
    update_organization: UpdateOrganizationHandler
    login: LoginHandler
    refresh_token: RefreshTokenHandler
    logout: LogoutHandler
    get_jwks: GetJwksHandler
    introspect_token: IntrospectTokenHandler
    authenticate_api_key: AuthenticateApiKeyHandler
    rotate_signing_key: RotateSigningKeyHandler
    get_current_user: GetCurrentUserHandler
    get_user: GetUserHandler
    list_users: ListUsersHandler
    create_user: CreateUserHandler
    update_user: UpdateUserHandler
    deactivate_user: DeactivateUserHandler
    change_password: ChangePasswordHandler
    create_api_key: CreateApiKeyHandler
    list_api_keys: ListApiKeysHandler
    revoke_api_key: RevokeApiKeyHandler
    list_audit_events: ListAuditEventsHandler


def build_handlers(
    *,
    uow: UnitOfWorkFactory,
    hasher: PasswordHasher,
    tokens: TokenService,
    throttle: LoginThrottle,
    clock: Clock,
    policy: SessionPolicy,
) -> Handlers:
    sessions = SessionIssuer(tokens, clock, policy)
    verifier = ApiKeyVerifier(uow, clock)
    return Handlers(
        create_organization=CreateOrganizationHandler(uow, hasher, clock),
        get_organization=GetOrganizationHandler(uow),
        update_organization=UpdateOrganizationHandler(uow, clock),
        login=LoginHandler(uow, hasher, sessions, throttle, clock),
        refresh_token=RefreshTokenHandler(uow, sessions, clock),
        logout=LogoutHandler(uow, clock),
        get_jwks=GetJwksHandler(tokens),
        introspect_token=IntrospectTokenHandler(uow, tokens, verifier),
        authenticate_api_key=AuthenticateApiKeyHandler(verifier, sessions),
        rotate_signing_key=RotateSigningKeyHandler(tokens),
        get_current_user=GetCurrentUserHandler(uow),
        get_user=GetUserHandler(uow),
        list_users=ListUsersHandler(uow),
        create_user=CreateUserHandler(uow, hasher, clock),
        update_user=UpdateUserHandler(uow, clock),
        deactivate_user=DeactivateUserHandler(uow, clock),
        change_password=ChangePasswordHandler(uow, hasher, clock),
        create_api_key=CreateApiKeyHandler(uow, clock),
        list_api_keys=ListApiKeysHandler(uow, clock),
        revoke_api_key=RevokeApiKeyHandler(uow, clock),
        list_audit_events=ListAuditEventsHandler(uow),
    )
