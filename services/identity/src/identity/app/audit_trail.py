"""Builds audit entries; they are written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime

from identity.domain.model import AuditEntry
from keel_runtime.caller import Caller
from keel_runtime.ids import new_id


def entry(
    *,
    organization_id: str,
    action: str,
    target_type: str,
    target_id: str,
    at: datetime,
    caller: Caller | None = None,
    actor_subject: str = "",
    actor_kind: str = "",
    **metadata: str,
) -> AuditEntry:
    """An audit entry; the storage adapter fills the request id from the call context."""
    return AuditEntry(
        id=new_id(),
        organization_id=organization_id,
        actor=caller.subject if caller else actor_subject,
        actor_kind=caller.kind if caller else (actor_kind or "anonymous"),
        action=action,
        target_type=target_type,
        target_id=target_id,
        request_id="",
        created_at=at,
        metadata=dict(metadata),
    )
