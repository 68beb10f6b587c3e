"""Who may read and change items: roles, for people and API keys alike (scopes are the
server chain's, see keel_runtime.access)."""

from __future__ import annotations

import pytest

from items.app.access import require_read, require_write
from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused


def test_a_member_may_read_and_write() -> None:
    member = Caller(subject="u1", org_id="o1", roles=frozenset({"MEMBER"}))
    require_read(member)
    require_write(member)


def test_a_write_scoped_api_key_cannot_write_with_a_read_only_role() -> None:
    key = Caller(
        subject="k1",
        org_id="o1",
        roles=frozenset({"READ_ONLY"}),
        scopes=frozenset({"items:write"}),
        kind="api_key",
    )
    require_read(key)
    with pytest.raises(CallerRefused):
        require_write(key)


def test_an_api_key_without_a_role_does_nothing() -> None:
    key = Caller(subject="k1", org_id="o1", scopes=frozenset({"items:write"}), kind="api_key")
    with pytest.raises(CallerRefused):
        require_read(key)
    with pytest.raises(CallerRefused):
        require_write(key)


def test_keel_services_read_and_write_the_operator_neither() -> None:
    service = Caller(subject="billing", org_id="o1", kind="service")
    require_read(service)
    require_write(service)
    operator = Caller(subject="operator", org_id="o1", kind="operator")
    with pytest.raises(CallerRefused):
        require_read(operator)
    with pytest.raises(CallerRefused):
        require_write(operator)
