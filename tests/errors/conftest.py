"""A real identity server, in this process (so its log can be captured), on a fresh database."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from identity.adapters.crypto.passwords import Argon2Hasher
from identity.bootstrap import Overrides, build
from identity.config import IdentityConfig
from identity.storage.schema import SCHEMA
from keel_devstack.pytest_plugin import MigratedTemplates
from keel_runtime.logging import JsonFormatter
from keel_runtime.server import start
from keel_runtime.settings import ServerSettings

# The tests import their shared code (errors_support) as a plain module.
HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from errors_support import FAST_ARGON2, Identity  # noqa: E402


@pytest.fixture
def database_template(migrated_templates: MigratedTemplates) -> str:
    return migrated_templates(SCHEMA)


@pytest.fixture
def identity_db(runtime_database_url: str) -> str:
    """A copy of identity's migrated schema; identity runs as the runtime role."""
    return runtime_database_url


@pytest.fixture
def overrides() -> Overrides:
    """What the test replaces in identity (its documented seams); cheap hashing by default."""
    return Overrides(hasher=Argon2Hasher(FAST_ARGON2))


@pytest.fixture
async def identity(identity_db: str, overrides: Overrides) -> AsyncIterator[Identity]:
    spec = await build(IdentityConfig(database_url=identity_db), overrides)
    running = await start(spec, ServerSettings(bind="127.0.0.1:0", grace_seconds=1))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        yield Identity(running, channel, identity_db)
    finally:
        await channel.close()
        await running.stop(1)


@pytest.fixture
def service_log() -> Iterator[io.StringIO]:
    """Every line the service logs while the test runs, formatted as it writes them (JSON)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("identity"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
