"""`python -m identity migrate` needs only DATABASE_URL; NATS_STREAM_REPLICAS reaches the stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

from identity import __main__ as entry
from identity.config import IdentityConfig
from identity.events import relay
from keel_runtime import migrations
from keel_runtime.events import StreamSettings
from keel_runtime.settings import SettingsError, load

DATABASE_URL = "postgresql://db/keel_identity"


def test_migrate_needs_only_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    # Settings only serving reads, set to values that would not load.
    monkeypatch.setenv("NATS_URL", "http://not-nats")
    monkeypatch.setenv("ACCESS_TOKEN_TTL_SECONDS", "1")
    monkeypatch.delenv("GRPC_BIND", raising=False)
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
    assert calls == [(DATABASE_URL, entry.MIGRATIONS)]


def test_migrate_without_a_database_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert entry.main(["migrate"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err


def test_config_reads_stream_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "3")
    assert load(IdentityConfig.from_env).streams == StreamSettings(replicas=3)


async def test_relay_declares_the_replicated_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    declared: list[Any] = []

    class _Relay:
        def __init__(self, engine: object, js: object, **options: object) -> None:
            pass

        async def run(self) -> None:
            return None

    async def ensure_stream(js: object, spec: object) -> None:
        declared.append(spec)

    monkeypatch.setattr(relay, "ensure_stream", ensure_stream)
    monkeypatch.setattr(relay, "OutboxRelay", _Relay)
    await relay.run_relay(object(), object(), StreamSettings(replicas=3))  # type: ignore[arg-type]
    assert [(s.name, s.subjects, s.replicas) for s in declared] == [("IDENTITY", ["identity.>"], 3)]


def test_config_refuses_a_malformed_trusted_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, gateway.local")

    with pytest.raises(SettingsError, match=r"TRUSTED_PROXIES.*gateway\.local"):
        IdentityConfig.from_env()


def test_config_reads_the_login_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("LOGIN_FREE_FAILURES", "3")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,::1")

    config = IdentityConfig.from_env()

    assert config.login_throttle.free_failures == 3
    assert config.login_throttle.max_delay_seconds == 900
    assert config.trusted_proxies == ("10.0.0.0/8", "::1")
