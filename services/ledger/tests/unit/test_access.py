"""Who reads and who moves money in the ledger: every kind of caller, admitted or refused."""

from __future__ import annotations

import pytest

from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused
from ledger.app.access import idempotency_scope, require_reader, require_writer, sees

READ, WRITE = frozenset({"ledger:read"}), frozenset({"ledger:write"})


def key(*roles: str, scopes: frozenset[str] = WRITE) -> Caller:
    return Caller("key", "o1", frozenset(roles), scopes, kind="api_key")


def user(*roles: str) -> Caller:
    return Caller("u", "o1", frozenset(roles))


WRITERS = [
    user("OWNER"),
    user("ADMIN"),
    Caller("billing", "o1", kind="service"),
    Caller("operator", kind="operator"),
    key(),  # a key without roles acts on its scope
    key("ADMIN"),
]
NOT_WRITERS = [user("MEMBER"), user(), key(scopes=READ), key("MEMBER"), key("OWNER", scopes=READ)]


@pytest.mark.parametrize("who", WRITERS)
def test_writers(who: Caller) -> None:
    require_writer(who)
    require_reader(who)


@pytest.mark.parametrize("who", NOT_WRITERS)
def test_not_writers(who: Caller) -> None:
    with pytest.raises(CallerRefused):
        require_writer(who)


def test_every_member_reads_a_key_needs_a_ledger_scope() -> None:
    for reader in (user(), user("READ_ONLY"), key(scopes=READ), key("MEMBER", scopes=READ)):
        require_reader(reader)
    with pytest.raises(CallerRefused) as refused:
        require_reader(key("OWNER", scopes=frozenset({"items:read"})))
    assert refused.value.reason == "SCOPE_REQUIRED"


def test_tenants_see_their_organization_the_platform_every_one() -> None:
    assert sees(user("OWNER"), "o1") and not sees(user("OWNER"), "o2")
    assert sees(Caller("billing", "o1", kind="service"), "o2")
    assert sees(Caller("operator", kind="operator"), "o2")


def test_request_ids_are_the_organizations_or_one_platform_callers() -> None:
    assert idempotency_scope(user("OWNER")) == idempotency_scope(key()) == "org:o1"
    billing = Caller("billing", "o1", kind="service")
    assert idempotency_scope(billing) == "org:o1/service:billing"
    assert idempotency_scope(billing, "o2") == "org:o2/service:billing"
