"""Commands and queries the handlers accept (plain data, built by the transport)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from identity.domain.roles import Role
from keel_runtime.caller import Caller


@dataclass(frozen=True)
class CreateOrganization:
    display_name: str
    owner_email: str
    owner_password: str
    owner_display_name: str = ""
    default_currency: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class GetOrganization:
    caller: Caller
    organization_id: str


@dataclass(frozen=True)
class UpdateOrganization:
    caller: Caller
    organization_id: str
    fields: frozenset[str]
    display_name: str = ""
    default_currency: str = ""


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    organization_id: str = ""
    client_address: str = ""


@dataclass(frozen=True)
class RefreshSession:
    refresh_token: str


@dataclass(frozen=True)
class Logout:
    caller: Caller
    refresh_token: str


@dataclass(frozen=True)
class GetCurrentUser:
    caller: Caller


@dataclass(frozen=True)
class GetUser:
    caller: Caller
    user_id: str


@dataclass(frozen=True)
class ListUsers:
    caller: Caller
    page_size: int = 0
    page_token: str = ""
    show_deactivated: bool = False


@dataclass(frozen=True)
class CreateUser:
    caller: Caller
    email: str
    initial_password: str
    display_name: str = ""
    roles: frozenset[Role] = frozenset()
    request_id: str = ""


@dataclass(frozen=True)
class UpdateUser:
    caller: Caller
    user_id: str
    fields: frozenset[str]
    display_name: str = ""
    roles: frozenset[Role] = frozenset()


@dataclass(frozen=True)
class DeactivateUser:
    caller: Caller
    user_id: str


@dataclass(frozen=True)
class ChangePassword:
    caller: Caller
    current_password: str
    new_password: str


@dataclass(frozen=True)
class CreateApiKey:
    caller: Caller
    display_name: str
    scopes: frozenset[str] = frozenset()
    roles: frozenset[Role] = frozenset()
    expires_at: datetime | None = None
    request_id: str = ""


@dataclass(frozen=True)
class ListApiKeys:
    caller: Caller
    page_size: int = 0
    page_token: str = ""
    show_inactive: bool = False


@dataclass(frozen=True)
class RevokeApiKey:
    caller: Caller
    api_key_id: str


@dataclass(frozen=True)
class IntrospectToken:
    caller: Caller
    token: str


@dataclass(frozen=True)
class AuthenticateApiKey:
    caller: Caller
    api_key: str


@dataclass(frozen=True)
class ExchangeApiKey:
    """The public exchange: the key itself is the only credential."""

    api_key: str


@dataclass(frozen=True)
class ListAuditEvents:
    caller: Caller
    page_size: int = 0
    page_token: str = ""
    action: str = ""
    actor_filter: str = ""


@dataclass(frozen=True)
class RotateSigningKey:
    caller: Caller
