"""Commands and queries the handlers accept (plain data, built by the transport)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from identity.domain.model import Actor
from identity.domain.roles import Role


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
    actor: Actor
    organization_id: str


@dataclass(frozen=True)
class UpdateOrganization:
    actor: Actor
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
    actor: Actor
    refresh_token: str


@dataclass(frozen=True)
class GetCurrentUser:
    actor: Actor


@dataclass(frozen=True)
class GetUser:
    actor: Actor
    user_id: str


@dataclass(frozen=True)
class ListUsers:
    actor: Actor
    page_size: int = 0
    page_token: str = ""
    show_deactivated: bool = False


@dataclass(frozen=True)
class CreateUser:
    actor: Actor
    email: str
    initial_password: str
    display_name: str = ""
    roles: frozenset[Role] = frozenset()
    request_id: str = ""


@dataclass(frozen=True)
class UpdateUser:
    actor: Actor
    user_id: str
    fields: frozenset[str]
    display_name: str = ""
    roles: frozenset[Role] = frozenset()


@dataclass(frozen=True)
class DeactivateUser:
    actor: Actor
    user_id: str


@dataclass(frozen=True)
class ChangePassword:
    actor: Actor
    current_password: str
    new_password: str


@dataclass(frozen=True)
class CreateApiKey:
    actor: Actor
    display_name: str
    scopes: frozenset[str] = frozenset()
    roles: frozenset[Role] = frozenset()
    expires_at: datetime | None = None
    request_id: str = ""


@dataclass(frozen=True)
class ListApiKeys:
    actor: Actor
    page_size: int = 0
    page_token: str = ""
    show_inactive: bool = False


@dataclass(frozen=True)
class RevokeApiKey:
    actor: Actor
    api_key_id: str


@dataclass(frozen=True)
class IntrospectToken:
    actor: Actor
    token: str


@dataclass(frozen=True)
class AuthenticateApiKey:
    actor: Actor
    api_key: str


@dataclass(frozen=True)
class ExchangeApiKey:
    """The public exchange: the key itself is the only credential."""

    api_key: str


@dataclass(frozen=True)
class ListAuditEvents:
    actor: Actor
    page_size: int = 0
    page_token: str = ""
    action: str = ""
    actor_filter: str = ""


@dataclass(frozen=True)
class RotateSigningKey:
    actor: Actor
