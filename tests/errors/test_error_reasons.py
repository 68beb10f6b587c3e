"""The contracts hold every error reason a client can meet: each service's own
(keel.<service>.v1.ErrorReason, from its domain errors) and the mesh's own
(keel.common.v1.ErrorReason, from keel_runtime): each given reason is declared, and nothing
declared is stale.

A reason no domain error gives any more stays in the enum, marked deprecated, so that its
number is never reused (``buf breaking`` forbids deleting it); it must then be given by none."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import EnumDescriptor

PREFIX = "ERROR_REASON_"
SERVICES = ["identity", "ledger", "items", "billing"]


def domain_reasons(service: str) -> dict[str, str]:
    """Reason -> the first error class declaring it, from ``<service>.domain.errors``."""
    module = importlib.import_module(f"{service}.domain.errors")
    found: dict[str, str] = {}
    for name, cls in inspect.getmembers(module, inspect.isclass):
        reason = cls.__dict__.get("reason")
        if cls.__module__ == module.__name__ and isinstance(reason, str):
            found.setdefault(reason, name)
    return found


def contract_reasons(service: str, *, deprecated: bool = False) -> set[str]:
    """The reasons the enum declares: the live ones, or with ``deprecated`` the retired ones."""
    enum: EnumDescriptor = importlib.import_module(
        f"keel.{service}.v1.error_reason_pb2"
    ).DESCRIPTOR.enum_types_by_name["ErrorReason"]
    names = {
        value.name
        for value in enum.values
        if value.number != 0 and value.GetOptions().deprecated == deprecated
    }
    assert all(name.startswith(PREFIX) for name in names)
    return {name.removeprefix(PREFIX) for name in names}


@pytest.mark.parametrize("service", SERVICES)
def test_every_domain_error_reason_is_declared_in_the_contract(service: str) -> None:
    undeclared = {
        r: c for r, c in domain_reasons(service).items() if r not in contract_reasons(service)
    }
    assert undeclared == {}, f"add these to protos/keel/{service}/v1/error_reason.proto"


@pytest.mark.parametrize("service", SERVICES)
def test_the_contract_declares_no_reason_the_service_never_gives(service: str) -> None:
    stale = contract_reasons(service) - set(domain_reasons(service))
    assert stale == set(), f"no error of {service} carries these any more"


@pytest.mark.parametrize("service", SERVICES)
def test_no_domain_error_gives_a_retired_reason(service: str) -> None:
    revived = contract_reasons(service, deprecated=True) & set(domain_reasons(service))
    assert revived == set(), "a deprecated reason is given again: un-deprecate it or rename"


# The mesh's own reasons: what keel_runtime gives whatever the service (authentication,
# access, validation, paging, outages), declared once in keel.common.v1.ErrorReason.

RUNTIME_ROOT_DEFAULT = "RUNTIME_ERROR"
"""``RuntimeRpcError``'s placeholder: the root is never raised, each subclass names its own."""


def runtime_reasons() -> dict[str, str]:
    """Reason -> the runtime module giving it: each error class's ``reason``, each
    ``reason=`` argument (a literal or a module constant), and each outage reason."""
    from keel_runtime.interceptors import outages

    package = Path(importlib.import_module("keel_runtime").__file__ or "").parent
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            value: ast.expr | None = None
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    if isinstance(statement, ast.AnnAssign | ast.Assign):
                        targets = (
                            statement.targets
                            if isinstance(statement, ast.Assign)
                            else [statement.target]
                        )
                        if any(isinstance(t, ast.Name) and t.id == "reason" for t in targets):
                            value = statement.value
            elif isinstance(node, ast.keyword) and node.arg == "reason":
                value = node.value
            reason = None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                reason = value.value
            elif isinstance(value, ast.Name):
                reason = constants.get(value.id)
            if reason and reason != RUNTIME_ROOT_DEFAULT:
                found.setdefault(reason, path.name)
    for reason in outages.MESSAGES:
        found.setdefault(reason, "interceptors/outages.py")
    return found


def test_every_runtime_reason_is_declared_in_the_common_contract() -> None:
    undeclared = {r: m for r, m in runtime_reasons().items() if r not in contract_reasons("common")}
    assert undeclared == {}, "add these to protos/keel/common/v1/error_reason.proto"


def test_the_common_contract_declares_no_reason_the_runtime_never_gives() -> None:
    stale = contract_reasons("common") - set(runtime_reasons())
    assert stale == set(), "the runtime gives none of these any more"


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_reuses_a_common_reason(service: str) -> None:
    # One meaning per reason across the mesh: a client reads ROLE_REQUIRED the same whoever
    # says it. A bare status name (a category's default, e.g. PERMISSION_DENIED) means its
    # status everywhere, so it may stand in both.
    status_names = {code.name for code in grpc.StatusCode}
    shared = (contract_reasons(service) & contract_reasons("common")) - status_names
    assert shared == set(), f"{service} declares the mesh's own reasons again"
