"""`python -m items migrate` needs only DATABASE_URL; NATS_STREAM_REPLICAS reaches the streams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

from items import __main__ as entry
from items import bootstrap
from items.config import ItemsConfig
from keel_runtime import migrations
from keel_runtime.events import Consumer, StreamSettings
from keel_runtime.settings import SettingsError, load

DATABASE_URL = "postgresql://db/keel_items"


def test_migrate_needs_only_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NATS_URL", "GRPC_BIND", "ITEMS_ENRICHMENT_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    calls: list[tuple[str, Path]] = []

    def run_migrations(url: str, script_location: Path, metadata: MetaData) -> None:
        calls.append((url, script_location))

    # The migration runs in keel_runtime.migrations.migrate_command; no server is reached.
    monkeypatch.setattr(migrations, "run_migrations", run_migrations)
    monkeypatch.setattr(migrations, "check_migration_rights", lambda url, role: None)
    for name in ("MIGRATION_DATABASE_URL", "DATA_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(entry, "configure_logging", lambda service, level: None)
    assert entry.main(["migrate"]) == 0
    assert calls == [(DATABASE_URL, bootstrap.MIGRATIONS)]


def test_migrate_without_a_database_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(entry, "configure_logging", lambda service, level: None)
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        entry.main(["migrate"])


def test_config_reads_stream_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222")
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "3")
    assert load(ItemsConfig.from_env).streams == StreamSettings(replicas=3)


async def test_build_declares_replicated_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    declared: list[Any] = []

    class _Nats:
        is_connected = True

        async def drain(self) -> None:
            return None

    async def connect_nats(url: str, **kwargs: Any) -> tuple[Any, Any]:
        return _Nats(), object()

    async def ensure_stream(js: object, spec: object) -> None:
        declared.append(spec)

    monkeypatch.setattr(bootstrap, "connect_nats", connect_nats)
    monkeypatch.setattr(bootstrap, "ensure_stream", ensure_stream)
    config = ItemsConfig(
        database_url=DATABASE_URL,
        nats_url="nats://127.0.0.1:4222",
        streams=StreamSettings(replicas=3),
    )
    spec = await bootstrap.build(config)
    try:
        assert [(s.name, s.replicas) for s in declared] == [("ITEMS", 3)]
        consumers = [
            owner
            for task in spec.background
            if isinstance(owner := getattr(task, "__self__", None), Consumer)
        ]
        assert consumers
        assert {(c.dead_letter_stream.name, c.dead_letter_stream.replicas) for c in consumers} == {
            ("DLQ", 3)
        }
    finally:
        for close in spec.closers:
            await close()
