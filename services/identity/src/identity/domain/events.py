"""Domain events identity records; they leave through the outbox after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


DomainEvent = OrganizationCreated | UserCreated | UserDeactivated | ApiKeyCreated | ApiKeyRevoked
