"""A real identity server on 127.0.0.1:0 over a fresh, migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from identity.adapters.crypto.passwords import Argon2Hasher, Argon2Params
from identity.bootstrap import Overrides, build
from identity.config import IdentityConfig
from keel_devstack.certs import MeshCertificates
from keel_devstack.routed_channel import RoutedChannel
from keel_runtime.server import RunningServer, ServiceSpec, start
from keel_runtime.settings import ServerSettings
from keel_runtime.testing import TokenIssuer, merged_jwks

FAST_ARGON2 = Argon2Params(time_cost=1, memory_cost_kib=64, parallelism=1)


Metadata = tuple[tuple[str, str], ...]


def bearer(access_token: str) -> Metadata:
    """Call metadata carrying an access token, as the gateway forwards it."""
    return (("authorization", f"Bearer {access_token}"),)


@pytest.fixture
def config(migrated_database_url: str) -> IdentityConfig:
    return IdentityConfig(database_url=migrated_database_url)


@pytest.fixture
async def server(
    config: IdentityConfig, mesh_certs: MeshCertificates, token_issuer: TokenIssuer
) -> AsyncIterator[RunningServer]:
    spec = await build(config, Overrides(hasher=Argon2Hasher(FAST_ARGON2)))
    trust_test_tokens(spec, token_issuer)
    settings = ServerSettings(bind="127.0.0.1:0", grace_seconds=1, tls=mesh_certs["identity"].tls)
    running = await start(spec, settings)
    yield running
    await running.stop(1)


def trust_test_tokens(spec: ServiceSpec, token_issuer: TokenIssuer) -> None:
    """Identity verifies its own login tokens, and the test's too."""
    assert spec.jwks is not None, "identity verifies tokens against its own keys"
    spec.jwks = merged_jwks(spec.jwks, token_issuer.jwks)


@pytest.fixture
async def channel(server: RunningServer, mesh_certs: MeshCertificates) -> AsyncIterator[Any]:
    """Over mutual TLS as in the mesh: users' tokens come through the gateway's certificate,
    service principals are the named service's own certificate (``as_workload``)."""
    channel = RoutedChannel(f"127.0.0.1:{server.port}", mesh_certs)
    try:
        yield channel
    finally:
        await channel.close()
