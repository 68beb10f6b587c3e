"""NATS_STREAM_REPLICAS reaches every stream the ledger declares, the DLQ included."""

from __future__ import annotations

from typing import Any

import pytest

from keel_runtime.events import Consumer, StreamSettings
from ledger import bootstrap
from ledger.config import Config


def test_config_reads_stream_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/keel_ledger")
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222")
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "3")
    assert Config.from_env().streams == StreamSettings(replicas=3)
    monkeypatch.delenv("NATS_STREAM_REPLICAS")
    assert Config.from_env().streams == StreamSettings(replicas=1)


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
    config = Config(
        database_url="postgresql://db/keel_ledger",
        nats_url="nats://127.0.0.1:4222",
        streams=StreamSettings(replicas=3),
    )
    spec = await bootstrap.build(config)
    try:
        assert [(s.name, s.replicas) for s in declared] == [("LEDGER", 3), ("IDENTITY", 3)]
        consumers = [
            owner
            for task in spec.background
            if isinstance(owner := getattr(task, "__self__", None), Consumer)
        ]
        assert [c.dead_letter_stream.replicas for c in consumers] == [3]
    finally:
        for close in spec.closers:
            await close()
