"""Domain model <-> keel.identity.v1 resource messages (shared by transport and event codec)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from keel.identity.v1 import resources_pb2

from identity.domain.model import (
    ApiKey,
    ApiKeyState,
    AuditEntry,
    Organization,
    User,
    UserState,
)
from identity.domain.roles import Role, parse_roles
from keel_runtime.timestamps import timestamp


def role_to_proto(role: Role) -> resources_pb2.Role.ValueType:
    return resources_pb2.Role.Value(f"ROLE_{role.value}")


def roles_from_proto(values: Iterable[int]) -> frozenset[Role]:
    names = (resources_pb2.Role.Name(v).removeprefix("ROLE_") for v in values if v)
    return parse_roles(names)


def organization(org: Organization) -> resources_pb2.Organization:
    return resources_pb2.Organization(
        organization_id=org.id,
        display_name=org.display_name,
        default_currency=org.default_currency,
        create_time=timestamp(org.created_at),
        update_time=timestamp(org.updated_at),
    )


_USER_STATES = {
    UserState.ACTIVE: resources_pb2.USER_STATE_ACTIVE,
    UserState.DEACTIVATED: resources_pb2.USER_STATE_DEACTIVATED,
}


def user(u: User) -> resources_pb2.User:
    return resources_pb2.User(
        user_id=u.id,
        organization_id=u.organization_id,
        email=u.email,
        display_name=u.display_name,
        roles=[role_to_proto(r) for r in sorted(u.roles)],
        state=_USER_STATES[u.state],
        create_time=timestamp(u.created_at),
        update_time=timestamp(u.updated_at),
    )


_API_KEY_STATES = {
    ApiKeyState.ACTIVE: resources_pb2.API_KEY_STATE_ACTIVE,
    ApiKeyState.REVOKED: resources_pb2.API_KEY_STATE_REVOKED,
    ApiKeyState.EXPIRED: resources_pb2.API_KEY_STATE_EXPIRED,
}


def api_key(k: ApiKey, now: datetime) -> resources_pb2.ApiKey:
    return resources_pb2.ApiKey(
        api_key_id=k.id,
        organization_id=k.organization_id,
        display_name=k.display_name,
        prefix=k.prefix,
        scopes=sorted(k.scopes),
        roles=[role_to_proto(r) for r in sorted(k.roles)],
        created_by=k.creator_user_id,
        state=_API_KEY_STATES[k.state(now)],
        expire_time=timestamp(k.expires_at),
        last_used_time=timestamp(k.last_used_at),
        create_time=timestamp(k.created_at),
        revoke_time=timestamp(k.revoked_at),
    )


def audit_event(e: AuditEntry) -> resources_pb2.AuditEvent:
    return resources_pb2.AuditEvent(
        audit_event_id=e.id,
        organization_id=e.organization_id,
        actor=e.actor,
        actor_kind=e.actor_kind,
        action=e.action,
        target_type=e.target_type,
        target_id=e.target_id,
        request_id=e.request_id,
        metadata=e.metadata,
        create_time=timestamp(e.created_at),
    )
