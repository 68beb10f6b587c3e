"""A real identity server on 127.0.0.1:0 over a fresh, migrated database."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from identity.bootstrap import Overrides, build
from identity.config import IdentityConfig
from identity.crypto.passwords import Argon2Hasher, Argon2Params
from keel_devstack.certs import MeshCertificates
from keel_devstack.routed_channel import RoutedChannel
from keel_runtime.server import RunningServer, start
from keel_runtime.settings import ServerSettings

FAST_ARGON2 = Argon2Params(time_cost=1, memory_cost_kib=64, parallelism=1)


Metadata = tuple[tuple[str, str], ...]


def principal_metadata(claims: dict[str, Any]) -> Metadata:
    """What the gateway forwards from a verified JWT: base64url(JSON payload)."""
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return (("x-keel-principal", encoded),)


@pytest.fixture
def as_principal() -> Callable[[dict[str, Any]], Metadata]:
    return principal_metadata


@pytest.fixture
def config(migrated_database_url: str) -> IdentityConfig:
    return IdentityConfig(database_url=migrated_database_url)


@pytest.fixture
async def server(
    config: IdentityConfig, mesh_certs: MeshCertificates
) -> AsyncIterator[RunningServer]:
    spec = await build(config, Overrides(hasher=Argon2Hasher(FAST_ARGON2)))
    settings = ServerSettings(bind="127.0.0.1:0", grace_seconds=1, tls=mesh_certs["identity"].tls)
    running = await start(spec, settings)
    yield running
    await running.stop(1)


@pytest.fixture
async def channel(server: RunningServer, mesh_certs: MeshCertificates) -> AsyncIterator[Any]:
    """Over mutual TLS as in the mesh: user principals come through the gateway's
    certificate, service principals through the named service's own."""
    channel = RoutedChannel(f"127.0.0.1:{server.port}", mesh_certs)
    try:
        yield channel
    finally:
        await channel.close()
