"""Who may read and change items: roles, for people and API keys alike (scopes are the
server chain's, see keel_runtime.access)."""

from __future__ import annotations

import pytest

from items.app.actor import Actor
from items.domain.errors import NotPermitted


def test_a_member_may_read_and_write() -> None:
    member = Actor(subject="u1", org_id="o1", roles=frozenset({"MEMBER"}))
    member.require_read()
    member.require_write()


def test_a_write_scoped_api_key_cannot_write_with_a_read_only_role() -> None:
    key = Actor(
        subject="k1",
        org_id="o1",
        roles=frozenset({"READ_ONLY"}),
        scopes=frozenset({"items:write"}),
        kind="api_key",
    )
    key.require_read()
    with pytest.raises(NotPermitted):
        key.require_write()


def test_an_api_key_without_a_role_does_nothing() -> None:
    key = Actor(subject="k1", org_id="o1", scopes=frozenset({"items:write"}), kind="api_key")
    with pytest.raises(NotPermitted):
        key.require_read()
    with pytest.raises(NotPermitted):
        key.require_write()
