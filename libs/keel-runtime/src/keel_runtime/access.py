"""Who may call each method: the one table, read from the contracts' ``keel.auth.v1`` options.

Every method of every Keel service declares ``option (keel.auth.v1.access)``: public (no
credential), platform (the operator or a Keel service only) or the API-key scopes that
reach it. Scopes are a closed vocabulary, the values of ``keel.auth.v1.Scope``. The server
chain, identity's API-key creation and the gateway all read this module; nothing is kept
by hand beside the protos.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache

from google.protobuf import descriptor, descriptor_pb2
from keel.auth.v1 import options_pb2

from keel_runtime.caller import PLATFORM_REQUIRED, SCOPE_REQUIRED
from keel_runtime.context import PLATFORM_KINDS, Principal
from keel_runtime.errors import CallerRefused

CONTRACTS_PACKAGE = "keel"


@dataclass(frozen=True, slots=True)
class MethodAccess:
    """One method's ``keel.auth.v1.Access`` option."""

    public: bool = False
    platform: bool = False
    scopes: frozenset[str] = field(default_factory=frozenset)
    """An API key needs one of these; empty means no API key reaches the method."""


UNDECLARED = MethodAccess()
"""A method without the option: a credential is needed and no API key reaches it."""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The scopes the contracts declare, split into what a tenant's key may carry and not."""

    tenant: frozenset[str]
    platform: frozenset[str]

    def unknown_or_platform(self, scopes: Iterable[str]) -> list[str]:
        """The scopes no API key may carry, in the order given."""
        return [s for s in scopes if s not in self.tenant]


@cache
def vocabulary() -> Vocabulary:
    tenant: set[str] = set()
    platform: set[str] = set()
    for value in options_pb2.Scope.DESCRIPTOR.values:
        info = value.GetOptions().Extensions[options_pb2.scope]
        if info.name:
            (platform if info.platform else tenant).add(info.name)
    return Vocabulary(frozenset(tenant), frozenset(platform))


def _scope_name(value: int) -> str:
    return str(
        options_pb2.Scope.DESCRIPTOR.values_by_number[value]
        .GetOptions()
        .Extensions[options_pb2.scope]
        .name
    )


def access_of(options: descriptor_pb2.MethodOptions) -> MethodAccess | None:
    """The access a method declares, None when it declares none."""
    if not options.HasExtension(options_pb2.access):
        return None
    declared = options.Extensions[options_pb2.access]
    return MethodAccess(
        public=declared.public,
        platform=declared.platform,
        scopes=frozenset(_scope_name(s) for s in declared.scopes),
    )


def keel_services() -> Iterator[descriptor.ServiceDescriptor]:
    """Every service of the Keel contracts, as the generated code describes it."""
    root = importlib.import_module(CONTRACTS_PACKAGE)
    for found in pkgutil.walk_packages(root.__path__, f"{CONTRACTS_PACKAGE}."):
        if found.name.endswith("_pb2"):
            module = importlib.import_module(found.name)
            yield from module.DESCRIPTOR.services_by_name.values()


@cache
def method_table() -> dict[str, MethodAccess]:
    """``/package.Service/Method`` -> its access, for every method of every Keel service."""
    table: dict[str, MethodAccess] = {}
    for service in keel_services():
        for method in service.methods:
            found = access_of(method.GetOptions())
            table[f"/{service.full_name}/{method.name}"] = found or UNDECLARED
    return table


def method_access(method: str) -> MethodAccess:
    """A method's access; one outside the Keel contracts is ``UNDECLARED``."""
    return method_table().get(method, UNDECLARED)


def public_methods() -> frozenset[str]:
    """Methods callable without a credential, as the contracts declare them."""
    return frozenset(m for m, a in method_table().items() if a.public)


def platform_methods() -> frozenset[str]:
    """Methods only the platform may call; the public gateway does not route them."""
    return frozenset(m for m, a in method_table().items() if a.platform)


def is_platform(principal: Principal) -> bool:
    """Is the caller the platform (the operator or a Keel service) rather than a tenant?

    The one place that answers it. Both kinds come only from a verified workload
    certificate (``spiffe://keel/<service>``, ``spiffe://keel/operator``), never from a
    header (see ``keel_runtime.interceptors.principal.authorize``).
    """
    return principal.kind in PLATFORM_KINDS


def require_platform(principal: Principal) -> None:
    """Raise CallerRefused unless the caller is the platform."""
    if not is_platform(principal):
        raise CallerRefused(
            "only the platform operator or a Keel service may call this method",
            reason=PLATFORM_REQUIRED,
        )


def check(access: MethodAccess, principal: Principal) -> None:
    """Refuse a call the method's declared access does not allow.

    Users keep their role rules (checked by each service); an API key is limited to its
    scopes on top of whatever roles it carries, so it gets the intersection of both.
    """
    if access.public:
        return
    if access.platform:
        require_platform(principal)
        return
    if principal.kind == "api_key" and access.scopes.isdisjoint(principal.scopes):
        needed = " or ".join(sorted(access.scopes)) or "a platform credential"
        raise CallerRefused(
            f"this API key needs the {needed} scope",
            reason=SCOPE_REQUIRED,
            metadata={"required_scopes": " ".join(sorted(access.scopes))},
        )
