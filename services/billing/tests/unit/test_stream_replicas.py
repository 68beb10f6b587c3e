"""NATS_STREAM_REPLICAS reaches every stream billing declares, the DLQ included."""

from __future__ import annotations

from typing import Any

import pytest

from billing import bootstrap
from billing.config import Config
from keel_runtime.events import Consumer, StreamSettings
from keel_runtime.settings import ServerSettings


def test_config_reads_stream_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRPC_BIND", "127.0.0.1:50051")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/keel_billing")
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222")
    monkeypatch.setenv("LEDGER_TARGET", "127.0.0.1:50052")
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "3")
    assert Config.from_env().streams == StreamSettings(replicas=3)
    monkeypatch.delenv("NATS_STREAM_REPLICAS")
    assert Config.from_env().streams == StreamSettings(replicas=1)


async def test_build_declares_replicated_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    declared: list[Any] = []

    class _Nats:
        async def drain(self) -> None:
            return None

    async def connect_nats(url: str, **kwargs: Any) -> tuple[Any, Any]:
        return _Nats(), object()

    async def ensure_stream(js: object, spec: object) -> None:
        declared.append(spec)

    monkeypatch.setattr(bootstrap, "connect_nats", connect_nats)
    monkeypatch.setattr(bootstrap, "ensure_stream", ensure_stream)
    config = Config(
        server=ServerSettings(bind="127.0.0.1:0"),
        database_url="postgresql://db/keel_billing",
        nats_url="nats://127.0.0.1:4222",
        ledger_target="127.0.0.1:50052",
        streams=StreamSettings(replicas=3),
    )
    spec = await bootstrap.build(config)
    try:
        assert declared and {s.replicas for s in declared} == {3}
        assert declared[0].name == "BILLING"
        consumers = [
            owner
            for task in spec.background
            if isinstance(owner := getattr(task, "__self__", None), Consumer)
        ]
        assert consumers
        assert {c.dead_letter_stream.replicas for c in consumers} == {3}
    finally:
        for close in spec.closers:
            await close()
