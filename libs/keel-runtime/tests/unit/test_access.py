"""The access table the contracts declare: every method annotated, a closed scope vocabulary."""

from __future__ import annotations

import pytest

from keel_runtime import access
from keel_runtime.context import Principal
from keel_runtime.errors import PermissionDenied

TENANT_SCOPES = {
    "items:read",
    "items:write",
    "ledger:read",
    "ledger:write",
    "billing:read",
    "billing:write",
    "identity:read",
    "identity:write",
}


def test_every_method_of_every_service_declares_its_access() -> None:
    services = list(access.keel_services())
    assert len(services) >= 17  # every service of the four Keel services
    undeclared = [
        f"/{service.full_name}/{method.name}"
        for service in services
        for method in service.methods
        if access.access_of(method.GetOptions()) is None
    ]
    assert undeclared == []


def test_each_method_is_public_platform_or_reached_by_known_scopes() -> None:
    vocabulary = access.vocabulary()
    for method, declared in access.method_table().items():
        kinds = [declared.public, declared.platform, bool(declared.scopes)]
        assert kinds.count(True) == 1, method
        assert declared.scopes <= vocabulary.tenant, method


def test_the_scope_vocabulary_is_closed_and_platform_scopes_are_apart() -> None:
    vocabulary = access.vocabulary()
    assert vocabulary.tenant == TENANT_SCOPES
    assert "billing:admin" in vocabulary.platform
    assert vocabulary.tenant.isdisjoint(vocabulary.platform)
    assert vocabulary.unknown_or_platform(["items:read", "billing:admin", "x"]) == [
        "billing:admin",
        "x",
    ]


def test_platform_powers_and_public_entry_points_are_the_declared_ones() -> None:
    assert access.platform_methods() == {
        "/keel.identity.v1.AdminService/RotateSigningKey",
        "/keel.identity.v1.AuthService/IntrospectToken",
        "/keel.identity.v1.AuthService/AuthenticateApiKey",
        "/keel.ledger.v1.LedgerAdminService/VerifyLedger",
        "/keel.billing.v1.PlanService/CreatePlan",
        "/keel.billing.v1.PlanService/ArchivePlan",
    }
    assert access.public_methods() == {
        "/keel.identity.v1.OrganizationService/CreateOrganization",
        "/keel.identity.v1.AuthService/Login",
        "/keel.identity.v1.AuthService/RefreshToken",
        "/keel.identity.v1.AuthService/ExchangeApiKey",
        "/keel.identity.v1.AuthService/GetJwks",
    }


OWNER = Principal("u1", "o1", frozenset({"OWNER"}), frozenset({"read", "write", "admin"}))
SERVICE = Principal("billing", kind="service")


def key(*scopes: str) -> Principal:
    return Principal("k1", "o1", frozenset({"OWNER"}), frozenset(scopes), kind="api_key")


def test_no_tenant_principal_reaches_a_platform_method() -> None:
    rotate = access.method_access("/keel.identity.v1.AdminService/RotateSigningKey")
    for tenant in (OWNER, key("billing:admin", "identity:admin"), key(*TENANT_SCOPES)):
        with pytest.raises(PermissionDenied) as refused:
            access.check(rotate, tenant)
        assert refused.value.reason == "PLATFORM_REQUIRED"
    access.check(rotate, SERVICE)
    access.check(rotate, Principal("operator", kind="operator"))


def test_api_keys_need_a_scope_of_the_method_users_keep_their_roles() -> None:
    list_users = access.method_access("/keel.identity.v1.UserService/ListUsers")
    with pytest.raises(PermissionDenied) as refused:
        access.check(list_users, key("items:read"))
    assert refused.value.reason == "SCOPE_REQUIRED"
    access.check(list_users, key("identity:read"))
    access.check(list_users, key("identity:write"))
    access.check(list_users, OWNER)  # no tenant scope, yet the role rules decide


def test_a_method_outside_the_contracts_refuses_api_keys() -> None:
    undeclared = access.method_access("/test.v1.Probe/Echo")
    assert undeclared == access.UNDECLARED
    with pytest.raises(PermissionDenied):
        access.check(undeclared, key(*TENANT_SCOPES))
    access.check(undeclared, OWNER)
