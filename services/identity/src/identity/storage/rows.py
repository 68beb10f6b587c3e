"""Row <-> domain conversions shared by the repositories."""

from __future__ import annotations

from typing import Any

from identity.domain.model import ApiKey, AuditEntry, Organization, RefreshToken, User, UserState
from identity.domain.roles import parse_roles


def organization(row: Any) -> Organization:
    return Organization(
        id=row.id,
        display_name=row.display_name,
        default_currency=row.default_currency,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def user(row: Any) -> User:
    return User(
        id=row.id,
        organization_id=row.organization_id,
        email=row.email,
        display_name=row.display_name,
        roles=parse_roles(row.roles),
        password_hash=row.password_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
        state=UserState(row.state),
        deactivated_at=row.deactivated_at,
    )


def user_values(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "organization_id": u.organization_id,
        "email": u.email,
        "display_name": u.display_name,
        "roles": sorted(u.roles),
        "password_hash": u.password_hash,
        "state": u.state.value,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
        "deactivated_at": u.deactivated_at,
    }


def refresh_token(row: Any) -> RefreshToken:
    return RefreshToken(
        token_hash=row.token_hash,
        family_id=row.family_id,
        user_id=row.user_id,
        organization_id=row.organization_id,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        replaced_by=row.replaced_by,
        revoked_at=row.revoked_at,
    )


def api_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        organization_id=row.organization_id,
        display_name=row.display_name,
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        scopes=frozenset(row.scopes),
        roles=parse_roles(row.roles),
        creator_user_id=row.creator_user_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def api_key_values(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "organization_id": k.organization_id,
        "display_name": k.display_name,
        "prefix": k.prefix,
        "secret_hash": k.secret_hash,
        "scopes": sorted(k.scopes),
        "roles": sorted(k.roles),
        "creator_user_id": k.creator_user_id,
        "created_at": k.created_at,
        "expires_at": k.expires_at,
        "last_used_at": k.last_used_at,
        "revoked_at": k.revoked_at,
    }


def audit_entry(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        organization_id=row.organization_id,
        actor=row.actor,
        actor_kind=row.actor_kind,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        request_id=row.request_id,
        created_at=row.created_at,
        metadata=dict(row.metadata),
    )
