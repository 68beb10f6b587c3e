"""Domain events identity records; they leave through the outbox after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from identity.domain.roles import Role


@dataclass(frozen=True)
class OrganizationCreated:
    organization_id: str
    display_name: str
    owner_user_id: str
    default_currency: str
    occurred_at: datetime


@dataclass(frozen=True)
class UserCreated:
    user_id: str
    organization_id: str
    email: str
    roles: frozenset[Role]
    occurred_at: datetime


@dataclass(frozen=True)
class UserDeactivated:
    user_id: str
    organization_id: str
    occurred_at: datetime


class SessionRevocationReason(Enum):
    LOGOUT = "LOGOUT"
    REFRESH_TOKEN_REUSED = "REFRESH_TOKEN_REUSED"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"


@dataclass(frozen=True)
class SessionRevoked:
    """A session (refresh-token family) ended early: its access tokens must stop too."""

    session_id: str
    user_id: str
    organization_id: str
    reason: SessionRevocationReason
    occurred_at: datetime


@dataclass(frozen=True)
class ApiKeyCreated:
    api_key_id: str
    organization_id: str
    prefix: str
    scopes: frozenset[str]
    creator_user_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class ApiKeyRevoked:
    api_key_id: str
    organization_id: str
    occurred_at: datetime


DomainEvent = (
    OrganizationCreated
    | UserCreated
    | UserDeactivated
    | SessionRevoked
    | ApiKeyCreated
    | ApiKeyRevoked
)
