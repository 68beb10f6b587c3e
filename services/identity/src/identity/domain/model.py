"""Identity aggregates: organizations, users, refresh tokens, API keys and audit entries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from identity.domain.errors import (
    ApiKeyNotActive,
    InvalidField,
    UserDeactivated,
)
from identity.domain.roles import Role, scopes_for

DEFAULT_CURRENCY = "USD"
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()


def default_display_name(email: str) -> str:
    return email.split("@", 1)[0] or email


def check_currency(code: str) -> str:
    if not _CURRENCY.match(code):
        raise InvalidField("default_currency must be an ISO 4217 code", field="default_currency")
    return code


def check_display_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidField("display_name must be 1 to 200 characters", field="display_name")
    return name


@dataclass
class Organization:
    id: str
    display_name: str
    default_currency: str
    created_at: datetime
    updated_at: datetime


class UserState(StrEnum):
    ACTIVE = "ACTIVE"
    DEACTIVATED = "DEACTIVATED"


@dataclass
class User:
    id: str
    organization_id: str
    email: str
    display_name: str
    roles: frozenset[Role]
    password_hash: str
    created_at: datetime
    updated_at: datetime
    state: UserState = UserState.ACTIVE
    deactivated_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.state is UserState.ACTIVE

    def ensure_active(self) -> None:
        if not self.is_active:
            raise UserDeactivated(user_id=self.id)

    @property
    def scopes(self) -> frozenset[str]:
        return scopes_for(self.roles)

    def deactivate(self, now: datetime) -> None:
        self.ensure_active()
        self.state = UserState.DEACTIVATED
        self.deactivated_at = now
        self.updated_at = now


@dataclass
class RefreshToken:
    """One link of a rotation chain; only the sha256 of the secret is kept."""

    token_hash: str
    family_id: str
    user_id: str
    organization_id: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    replaced_by: str | None = None
    revoked_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and self.used_at is None and now < self.expires_at

    def within_grace(self, now: datetime, grace: timedelta) -> bool:
        """A spent token presented again soon after is a lost response, not theft."""
        return self.used_at is not None and now - self.used_at <= grace


class ApiKeyState(StrEnum):
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


@dataclass
class ApiKey:
    id: str
    organization_id: str
    display_name: str
    prefix: str
    secret_hash: str
    scopes: frozenset[str]
    roles: frozenset[Role]
    creator_user_id: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def state(self, now: datetime) -> ApiKeyState:
        if self.revoked_at is not None:
            return ApiKeyState.REVOKED
        if self.expires_at is not None and now >= self.expires_at:
            return ApiKeyState.EXPIRED
        return ApiKeyState.ACTIVE

    def revoke(self, now: datetime) -> None:
        if self.state(now) is not ApiKeyState.ACTIVE:
            raise ApiKeyNotActive(api_key_id=self.id)
        self.revoked_at = now


@dataclass(frozen=True)
class AuditEntry:
    id: str
    organization_id: str
    actor: str
    actor_kind: str
    action: str
    target_type: str
    target_id: str
    request_id: str
    created_at: datetime
    metadata: dict[str, str] = field(default_factory=dict)
