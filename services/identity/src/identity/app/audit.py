"""Handler for reading the audit log."""

from __future__ import annotations

from identity.app.commands import ListAuditEvents
from identity.app.ports import ListQuery, UnitOfWorkFactory
from identity.app.support import decode_page_token, encode_page_token, page_size
from identity.domain.model import AuditEntry
from identity.domain.roles import AUDIT_READERS, require_any


class ListAuditEventsHandler:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, query: ListAuditEvents) -> tuple[list[AuditEntry], str]:
        require_any(query.actor.roles, AUDIT_READERS)
        filters = {k: v for k, v in (("action", query.action), ("actor", query.actor_filter)) if v}
        scope = f"audit:{query.actor.organization_id}:{sorted(filters.items())}"
        list_query = ListQuery(
            limit=page_size(query.page_size),
            after=decode_page_token(query.page_token, scope),
            filters=filters,
        )
        async with self._uow() as uow:
            page = await uow.audit.list(query.actor.organization_id, list_query)
        return list(page.items), encode_page_token(page.next_cursor, scope)
