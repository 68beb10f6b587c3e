"""A real identity server on 127.0.0.1:0 over a fresh, migrated database."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest

from identity.bootstrap import Overrides, build
from identity.config import IdentityConfig
from identity.crypto.passwords import Argon2Hasher, Argon2Params
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
async def server(config: IdentityConfig) -> AsyncIterator[RunningServer]:
    spec = await build(config, Overrides(hasher=Argon2Hasher(FAST_ARGON2)))
    running = await start(spec, ServerSettings(bind="127.0.0.1:0", grace_seconds=1))
    yield running
    await running.stop(1)


@pytest.fixture
async def channel(server: RunningServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel
