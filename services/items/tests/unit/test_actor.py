"""Who may read and change items: roles for people, scopes for API keys that name them."""

from __future__ import annotations

import pytest

from items.app.actor import Actor
from items.domain.errors import NotPermitted


def test_a_member_may_read_and_write() -> None:
    member = Actor(subject="u1", org_id="o1", roles=frozenset({"MEMBER"}))
    member.require_read()
    member.require_write()


def test_a_read_scoped_api_key_cannot_write_even_with_a_writer_role() -> None:
    key = Actor(
        subject="k1",
        org_id="o1",
        roles=frozenset({"MEMBER"}),
        scopes=frozenset({"items:read"}),
        kind="api_key",
    )
    key.require_read()
    with pytest.raises(NotPermitted):
        key.require_write()


def test_an_api_key_scoped_to_something_else_cannot_read_items() -> None:
    key = Actor(
        subject="k1",
        org_id="o1",
        roles=frozenset({"MEMBER"}),
        scopes=frozenset({"ledger:read"}),
        kind="api_key",
    )
    with pytest.raises(NotPermitted):
        key.require_read()


def test_an_api_key_without_scopes_falls_back_to_its_role() -> None:
    key = Actor(subject="k1", org_id="o1", roles=frozenset({"MEMBER"}), kind="api_key")
    key.require_read()
    key.require_write()
