"""The contracts hold each service's error reasons (keel.<service>.v1.ErrorReason): every
reason a domain error can carry is declared there, and nothing declared there is stale.

A reason no domain error gives any more stays in the enum, marked deprecated, so that its
number is never reused (``buf breaking`` forbids deleting it); it must then be given by none."""

from __future__ import annotations

import importlib
import inspect

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
