"""Handlers for the audit log: list its events."""

from __future__ import annotations

from identity.app.commands import ListAuditEvents
from identity.app.ports import ListQuery, UnitOfWorkFactory
from identity.app.support import next_page_token, page_cursor
from identity.domain.model import AuditEntry
from identity.domain.roles import AUDIT_READERS
from keel_runtime import paging


class AuditHandlers:
    """The audit log: list."""

    def __init__(self, *, uow: UnitOfWorkFactory, reads: UnitOfWorkFactory | None = None) -> None:
        self._uow = uow
        # Pure reads go through units of work without a transaction of their own (read_only).
        self._reads = reads or uow

    async def list(self, query: ListAuditEvents) -> tuple[list[AuditEntry], str]:
        query.caller.require_role(*AUDIT_READERS)
        filters = {k: v for k, v in (("action", query.action), ("actor", query.actor_filter)) if v}
        scope = paging.query_digest("ListAuditEvents", query.caller.org_id, filters)
        list_query = ListQuery(
            limit=paging.page_size(query.page_size),
            after=page_cursor(query.page_token, scope),
            filters=filters,
        )
        async with self._reads() as uow:
            page = await uow.audit.list(query.caller.org_id, list_query)
        return list(page.items), next_page_token(page.next_cursor, scope)
