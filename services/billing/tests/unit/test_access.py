"""Who manages billing and who reports usage: every kind of caller, admitted or refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from billing.app.access import require_billing_manager, require_usage_reporter
from keel_runtime.caller import Caller
from keel_runtime.errors import CallerRefused


def caller(kind: str, *roles: str, org_id: str = "o1") -> Caller:
    return Caller(f"{kind}-1", org_id, frozenset(roles), kind=kind)


MANAGERS = [caller("user", "OWNER"), caller("user", "ADMIN"), caller("user", "billing")]
MANAGER_KEYS = [caller("api_key", "BILLING")]
NOT_MANAGERS = [caller("user", "MEMBER"), caller("user"), caller("operator"), caller("api_key")]


@pytest.mark.parametrize("who", [*MANAGERS, *MANAGER_KEYS, caller("service")])
def test_billing_managers_and_services_manage_billing(who: Caller) -> None:
    assert require_billing_manager(who) == "o1"


@pytest.mark.parametrize("who", [*NOT_MANAGERS, caller("api_key", "MEMBER")])
def test_others_do_not_manage_billing(who: Caller) -> None:
    with pytest.raises(CallerRefused) as refused:
        require_billing_manager(who)
    assert refused.value.reason == "ROLE_REQUIRED"


@pytest.mark.parametrize("who", [*MANAGERS, caller("service"), caller("api_key")])
def test_services_api_keys_and_billing_managers_report_usage(who: Caller) -> None:
    assert require_usage_reporter(who) == "o1"


@pytest.mark.parametrize("who", [caller("user", "MEMBER"), caller("operator")])
def test_members_and_the_operator_report_no_usage(who: Caller) -> None:
    with pytest.raises(CallerRefused):
        require_usage_reporter(who)


@pytest.mark.parametrize("check", [require_billing_manager, require_usage_reporter])
def test_billing_acts_for_an_organization_first(check: Callable[[Caller], str]) -> None:
    with pytest.raises(CallerRefused) as refused:
        check(caller("service", org_id=""))
    assert refused.value.reason == "ORGANIZATION_REQUIRED"
