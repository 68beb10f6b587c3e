"""Domain rules: role grants, email normalization, page tokens, key states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from identity.app.access import check_grant
from identity.app.support import next_page_token, page_cursor
from identity.domain.errors import ApiKeyNotActive
from identity.domain.model import ApiKey, ApiKeyState, normalize_email
from identity.domain.roles import Role, scopes_for
from keel_runtime import paging
from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused


def test_only_owners_grant_owner() -> None:
    def holding(*roles: Role) -> Caller:
        return Caller("u", "o", frozenset(roles))

    check_grant(holding(Role.OWNER), {Role.OWNER})
    check_grant(holding(Role.ADMIN), {Role.MEMBER, Role.BILLING})
    with pytest.raises(CallerRefused):
        check_grant(holding(Role.ADMIN), {Role.OWNER})
    with pytest.raises(CallerRefused):
        check_grant(holding(Role.MEMBER), {Role.READ_ONLY})


def test_scopes_follow_roles() -> None:
    assert scopes_for({Role.READ_ONLY}) == {"read"}
    assert "audit" in scopes_for({Role.COMPLIANCE}) and "write" not in scopes_for({Role.COMPLIANCE})


def test_emails_compare_case_insensitively() -> None:
    assert normalize_email("  Ada@Example.COM ") == "ada@example.com"


def test_page_tokens_are_bound_to_their_listing() -> None:
    cursor = (datetime.now(UTC).isoformat(), "7d0f7c59-3f4c-4a57-9a54-6c7e6f1f5a8e")
    token = next_page_token(cursor, "users:org-1")

    assert page_cursor(token, "users:org-1") == cursor
    for bad in (token, "garbage", token[:-3]):
        with pytest.raises(paging.InvalidPageToken):
            page_cursor(bad, "users:org-2" if bad == token else "users:org-1")


def test_api_key_states() -> None:
    now = datetime.now(UTC)
    key = ApiKey(
        "k",
        "o",
        "ci",
        "keel_x",
        "h",
        frozenset(),
        frozenset(),
        "u",
        now,
        expires_at=now + timedelta(1),
    )
    assert key.state(now) is ApiKeyState.ACTIVE
    assert key.state(now + timedelta(days=2)) is ApiKeyState.EXPIRED
    key.revoke(now)
    assert key.state(now) is ApiKeyState.REVOKED
    with pytest.raises(ApiKeyNotActive):
        key.revoke(now)
