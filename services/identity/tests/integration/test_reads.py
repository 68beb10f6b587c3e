"""The pure reads run as the server wires them: each statement its own read-only transaction,
sent with its organization in one round trip, with no BEGIN, SET LOCAL or ROLLBACK."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from identity.app.commands import (
    CreateApiKey,
    CreateOrganization,
    GetCurrentUser,
    GetOrganization,
    GetUser,
    ListApiKeys,
    ListAuditEvents,
    ListUsers,
)
from identity.app.handlers import Handlers
from identity.domain.roles import Role
from keel_runtime.caller import Caller
from keel_runtime.testing import messages_sent

pytestmark = pytest.mark.integration


async def test_the_reads_open_no_transaction(engine: AsyncEngine, handlers: Handlers) -> None:
    with messages_sent(engine) as written:
        signed_up = await handlers.organizations.create(
            CreateOrganization(
                "Engines", "a@example.com", "correct horse battery", str(uuid.uuid4())
            )
        )
        org, user = signed_up.organization, signed_up.owner
        me = Caller(user.id, org.id, frozenset({Role.OWNER}), frozenset(), "user")
        await handlers.api_keys.create(CreateApiKey(me, "ci", scopes=frozenset({"items:read"})))
    assert "Query" in written  # the writes' transactions: BEGIN, COMMIT

    with messages_sent(engine) as read:
        assert await handlers.organizations.get(GetOrganization(me, org.id)) == org
        assert (await handlers.users.get_current(GetCurrentUser(me))).id == user.id
        assert (await handlers.users.get(GetUser(me, user.id))).id == user.id
        users, _ = await handlers.users.list(ListUsers(me))
        assert [u.id for u in users] == [user.id]
        keys, _ = await handlers.api_keys.list(ListApiKeys(me))
        assert [k.display_name for k in keys] == ["ci"]
        entries, _ = await handlers.audit.list(ListAuditEvents(me))
        assert entries
    assert "Execute" in read
    assert "Query" not in read
