"""Service start order: dependencies first; `--only` pulls in what a service needs."""

from __future__ import annotations

import pytest

from keel_devstack.services import SERVICES, ServiceDef, in_start_order


def names(services: list[ServiceDef]) -> list[str]:
    return [svc.name for svc in services]


def test_dependencies_start_first() -> None:
    order = names(in_start_order(SERVICES))
    assert order.index("ledger") < order.index("billing")
    assert sorted(order) == ["billing", "identity", "items", "ledger"]


def test_only_pulls_in_dependencies() -> None:
    assert names(in_start_order(SERVICES, {"billing"})) == ["ledger", "billing"]


def test_unknown_and_cyclic_services_are_rejected() -> None:
    with pytest.raises(ValueError, match="nope"):
        in_start_order(SERVICES, {"nope"})
    loop = (ServiceDef("a", "a", 0, depends_on=("b",)), ServiceDef("b", "b", 0, depends_on=("a",)))
    with pytest.raises(ValueError, match="cycle"):
        in_start_order(loop)
