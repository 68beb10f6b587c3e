"""The one caller model: built from the verified principal, each check admitting and refusing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from keel_runtime.caller import Caller, current_caller
from keel_runtime.context import Principal
from keel_runtime.errors import CallerRefused, PermissionDenied, Unauthenticated
from keel_runtime.testing import calling_as, principal_of

OWNER = Caller("u1", "o1", frozenset({"OWNER"}))
MEMBER = Caller("u2", "o1", frozenset({"MEMBER"}))
BILLING = Caller("billing", kind="service")
OPERATOR = Caller("operator", kind="operator")


def key(*roles: str, scopes: frozenset[str] = frozenset({"ledger:write"})) -> Caller:
    return Caller("k1", "o1", frozenset(roles), scopes, kind="api_key")


def refusal(check: Callable[..., object], *args: str) -> CallerRefused:
    with pytest.raises(CallerRefused) as refused:
        check(*args)
    return refused.value


def test_a_caller_is_its_verified_principal_with_roles_upper_case() -> None:
    principal = Principal(
        "k1", "o1", frozenset({"owner", "Billing"}), frozenset({"items:read"}), kind="api_key"
    )
    made = Caller.from_principal(principal)
    assert made == Caller("k1", "o1", frozenset({"OWNER", "BILLING"}), principal.scopes, "api_key")
    assert Caller.from_principal(principal_of(made)) == made


@pytest.mark.parametrize("subject,kind", [("", "user"), ("u", "robot")])
def test_a_caller_needs_a_subject_and_a_known_kind(subject: str, kind: str) -> None:
    with pytest.raises(ValueError):
        Caller(subject, kind=kind)


def test_the_current_caller_is_the_bound_principal_and_none_outside_a_call() -> None:
    with calling_as(MEMBER):
        assert current_caller() == MEMBER
    with pytest.raises(Unauthenticated):
        current_caller()


@pytest.mark.parametrize(
    "kind,user,api_key,service,operator,platform",
    [
        ("user", True, False, False, False, False),
        ("api_key", False, True, False, False, False),
        ("service", False, False, True, False, True),
        ("operator", False, False, False, True, True),
    ],
)
def test_each_kind_answers_one_question_and_only_workloads_are_the_platform(
    kind: str, user: bool, api_key: bool, service: bool, operator: bool, platform: bool
) -> None:
    who = Caller("x", kind=kind)
    assert (who.is_user, who.is_api_key, who.is_service, who.is_operator, who.is_platform) == (
        user,
        api_key,
        service,
        operator,
        platform,
    )


def test_require_org_returns_the_organization_and_refuses_a_caller_acting_for_none() -> None:
    assert OWNER.require_org() == "o1"
    assert Caller("billing", "o2", kind="service").require_org() == "o2"
    for orgless in (BILLING, OPERATOR, Caller("u3")):
        assert refusal(orgless.require_org).reason == "ORGANIZATION_REQUIRED"


def test_require_role_admits_any_role_named_in_any_case() -> None:
    OWNER.require_role("OWNER", "ADMIN")
    OWNER.require_role("owner")
    Caller("u4", "o1", frozenset({"admin"})).require_role("ADMIN")


def test_require_role_refuses_saying_which_roles_would_do() -> None:
    refused = refusal(MEMBER.require_role, "OWNER", "ADMIN")
    assert isinstance(refused, PermissionDenied)
    assert refused.reason == "ROLE_REQUIRED"
    assert refused.metadata == {"required_roles": "ADMIN OWNER"}


def test_the_platform_has_no_role_it_does_not_carry() -> None:
    # Whether a service or the operator may skip a role is each service's policy.
    for platform in (BILLING, OPERATOR):
        assert refusal(platform.require_role, "OWNER").reason == "ROLE_REQUIRED"


def test_an_api_key_acts_with_its_own_roles_only() -> None:
    member_key = key("MEMBER")
    member_key.require_role("OWNER", "MEMBER")
    assert refusal(member_key.require_role, "OWNER", "ADMIN").reason == "ROLE_REQUIRED"
    # A key carrying no role holds none, whatever its scopes.
    assert refusal(key().require_role, "MEMBER").reason == "ROLE_REQUIRED"


def test_require_scope_admits_any_scope_named_and_refuses_otherwise() -> None:
    key().require_scope("ledger:read", "ledger:write")
    refused = refusal(key(scopes=frozenset({"ledger:read"})).require_scope, "ledger:write")
    assert refused.reason == "SCOPE_REQUIRED"
    assert refused.metadata == {"required_scopes": "ledger:write"}
    assert refusal(OWNER.require_scope, "ledger:read").reason == "SCOPE_REQUIRED"


def test_a_check_naming_nothing_is_a_mistake_not_a_refusal() -> None:
    with pytest.raises(ValueError):
        OWNER.require_role()
    with pytest.raises(ValueError):
        OWNER.require_scope()


def test_require_service_admits_only_the_named_workloads() -> None:
    BILLING.require_service("billing")
    BILLING.require_service("items", "billing")
    BILLING.require_service()  # any Keel service
    refused = refusal(BILLING.require_service, "ledger")
    assert refused.reason == "SERVICE_REQUIRED"
    assert refused.metadata == {"required_services": "ledger"}


def test_no_tenant_and_not_the_operator_passes_for_a_service() -> None:
    # A user or key whose id happens to be a workload's name is still a tenant.
    impostors = (Caller("billing", "o1", frozenset({"OWNER"})), key(), OPERATOR)
    for impostor in impostors:
        assert refusal(impostor.require_service, "billing").reason == "SERVICE_REQUIRED"
        assert refusal(impostor.require_service).reason == "SERVICE_REQUIRED"


def test_require_platform_admits_services_and_the_operator_only() -> None:
    BILLING.require_platform()
    OPERATOR.require_platform()
    for tenant in (OWNER, key("OWNER"), Caller("operator", "o1", frozenset({"OWNER"}))):
        assert refusal(tenant.require_platform).reason == "PLATFORM_REQUIRED"
