"""Every domain error of every service reaches its caller with a status it can act on.

Each service's ERROR_MAP (``<service>.transport.errors``) names only the error categories of
``<service>.domain.errors`` (NotFound, InvalidRequest, Conflict, ...), and the runtime finds
a raised error's status along its MRO. So an error joins a category and is mapped, or it
joins none and the caller gets INTERNAL with a generic message: these tests walk every
domain error class, wherever in the service it is defined, to catch the second case.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import grpc
import pytest

from keel_runtime.errors import ErrorMap
from keel_runtime.interceptors.error_mapping import ErrorMapper

pytestmark = pytest.mark.unit

SERVICES = ["identity", "ledger", "items", "billing"]

# What a client cannot act on: "something broke" (INTERNAL), "no idea" (UNKNOWN) and OK,
# which the runtime treats as unmapped.
UNACTIONABLE = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.OK}

# The categories' names, alike in every service, and the one status each stands for.
CATEGORIES = {
    "NotFound": grpc.StatusCode.NOT_FOUND,
    "InvalidRequest": grpc.StatusCode.INVALID_ARGUMENT,
    "Conflict": grpc.StatusCode.ALREADY_EXISTS,
    "PreconditionFailed": grpc.StatusCode.FAILED_PRECONDITION,
    "Forbidden": grpc.StatusCode.PERMISSION_DENIED,
    "AuthenticationFailed": grpc.StatusCode.UNAUTHENTICATED,
    "RateLimited": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "Aborted": grpc.StatusCode.ABORTED,
    "Unavailable": grpc.StatusCode.UNAVAILABLE,
}


def modules(service: str) -> Iterator[ModuleType]:
    """Every module of the service's package, imported (``__main__`` would run the CLI)."""
    package = importlib.import_module(service)
    yield package
    for found in pkgutil.walk_packages(package.__path__, f"{service}."):
        if not found.name.endswith(".__main__"):
            yield importlib.import_module(found.name)


def root_error(service: str) -> type[Exception]:
    """The one root of the service's domain errors: the class of ``domain.errors`` that
    derives from Exception directly."""
    module = importlib.import_module(f"{service}.domain.errors")
    roots = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and cls.__bases__ == (Exception,)
    ]
    assert len(roots) == 1, f"{module.__name__} should have one root error, has {roots}"
    return roots[0]


def descendants(cls: type[Exception]) -> set[type[Exception]]:
    found: set[type[Exception]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *descendants(sub)}
    return found


def domain_errors(service: str) -> set[type[Exception]]:
    """Every error a service's code can raise as a domain error: each descendant of its root
    (loaded from any module of the service), and any exception a domain module defines."""
    in_domain: set[type[Exception]] = set()
    for module in modules(service):
        if module.__name__.startswith(f"{service}.domain."):
            in_domain |= {
                cls
                for _, cls in inspect.getmembers(module, inspect.isclass)
                if cls.__module__ == module.__name__ and issubclass(cls, Exception)
            }
    root = root_error(service)
    return (descendants(root) | in_domain) - {root}


def error_map(service: str) -> ErrorMap:
    mapping: ErrorMap = importlib.import_module(f"{service}.transport.errors").ERROR_MAP
    return mapping


@pytest.mark.parametrize("service", SERVICES)
def test_every_domain_error_maps_to_a_status_a_client_can_act_on(service: str) -> None:
    mapper = ErrorMapper(service, error_map(service))
    errors = domain_errors(service)
    unmapped = {
        f"{cls.__module__}.{cls.__qualname__}": mapper.code_for(cls)
        for cls in errors
        if mapper.code_for(cls) in {None, *UNACTIONABLE}
    }
    assert unmapped == {}, "give each a category of domain.errors that ERROR_MAP names"
    outside = {cls.__qualname__ for cls in errors if not issubclass(cls, root_error(service))}
    assert outside == set(), "a domain exception outside the root joins no category"


@pytest.mark.parametrize("service", SERVICES)
def test_the_error_map_names_only_categories_each_with_its_one_status(service: str) -> None:
    children = set(root_error(service).__subclasses__())
    named = {
        cls.__qualname__: code
        for cls, code in error_map(service).items()
        if cls not in children or CATEGORIES.get(cls.__qualname__) != code
    }
    assert named == {}, (
        "ERROR_MAP names a category (a direct subclass of the root) by its shared name, "
        "with that name's status; an error joins its category instead of being mapped"
    )
