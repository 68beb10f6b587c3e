"""Every RPC of every service's contract is implemented and reachable on its real server.

Each service is assembled as ``python -m <service>`` assembles it (its definition, its
settings, real PostgreSQL and NATS) and served over mutual TLS. Implemented: the servicer
it registers overrides every method of its contract's service (the generated base answers
UNIMPLEMENTED). Reachable: every service of ``keel.<service>.v1`` is registered, and each
method is routed; an empty request from the operator may be refused, but never as
UNIMPLEMENTED. (Each service's ``test_every_rpc_is_called.py`` checks that a component
test calls each one with a real request.)
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import ServiceDescriptor

from keel_devstack.certs import MeshCertificates
from keel_devstack.pytest_plugin import MigratedTemplates
from keel_runtime import clients
from keel_runtime.server import RunningServer, start
from keel_runtime.service import ServiceDefinition
from keel_runtime.settings import ServerSettings
from keel_runtime.testing import TokenIssuer

SERVICES = ("identity", "ledger", "items", "billing")


@pytest.fixture(params=SERVICES)
def definition(request: pytest.FixtureRequest) -> ServiceDefinition[Any]:
    found: ServiceDefinition[Any] = importlib.import_module(f"{request.param}.bootstrap").DEFINITION
    return found


@pytest.fixture
def database_template(
    migrated_templates: MigratedTemplates, definition: ServiceDefinition[Any]
) -> str:
    return migrated_templates(definition.schema)


@pytest.fixture
async def served(
    definition: ServiceDefinition[Any],
    runtime_database_url: str,
    nats_url: str,
    mesh_certs: MeshCertificates,
    token_issuer: TokenIssuer,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[RunningServer]:
    monkeypatch.setenv("DATABASE_URL", runtime_database_url)
    monkeypatch.setenv("NATS_URL", nats_url)
    monkeypatch.setenv("LEDGER_TARGET", "127.0.0.1:9")  # billing's ledger, never reached here
    for name in ("REDIS_URL", "TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    spec = await definition.build(definition.config())
    spec.jwks = token_issuer.jwks
    tls = mesh_certs[definition.name].tls
    running = await start(spec, ServerSettings(bind="127.0.0.1:0", tls=tls))
    try:
        yield running
    finally:
        await running.stop(0)


def contract_services(service: str) -> dict[str, ServiceDescriptor]:
    """The gRPC services ``keel.<service>.v1`` declares, by full name."""
    package = importlib.import_module(f"keel.{service}.v1")
    found: dict[str, ServiceDescriptor] = {}
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.endswith("_service_pb2"):
            generated = importlib.import_module(f"{package.__name__}.{module.name}")
            for descriptor in generated.DESCRIPTOR.services_by_name.values():
                found[descriptor.full_name] = descriptor
    return found


def generated_base(servicer: object) -> type:
    """The ``XServicer`` class of the generated code the servicer derives from."""
    return next(c for c in type(servicer).__mro__ if c.__module__.endswith("_pb2_grpc"))


async def test_every_rpc_is_implemented_and_reachable(
    definition: ServiceDefinition[Any], served: RunningServer, mesh_certs: MeshCertificates
) -> None:
    contract = contract_services(definition.name)
    implemented: dict[str, list[str]] = {}
    for _, servicer in served.spec.servicers:
        base = generated_base(servicer)
        name = f"keel.{definition.name}.v1.{base.__name__.removesuffix('Servicer')}"
        implemented[name] = [
            method.name
            for method in contract[name].methods
            if getattr(type(servicer), method.name) is not getattr(base, method.name)
        ]
    assert set(implemented) == set(contract), "every contract service is registered"
    for name, descriptor in contract.items():
        assert implemented[name] == [m.name for m in descriptor.methods], name

    channel = clients.channel(f"127.0.0.1:{served.port}", mesh_certs["operator"].tls)
    try:
        for name, descriptor in contract.items():
            for method in descriptor.methods:
                call = channel.unary_unary(f"/{name}/{method.name}")
                try:
                    await call(b"", timeout=10)
                except grpc.aio.AioRpcError as refused:
                    assert refused.code() is not grpc.StatusCode.UNIMPLEMENTED, method.full_name
    finally:
        await channel.close()
