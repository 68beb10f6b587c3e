"""NATS_STREAM_REPLICAS reaches every StreamSpec a service declares."""

from __future__ import annotations

from typing import Any

import pytest
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError, NotFoundError

from keel_runtime.events import (
    DEAD_LETTER_STREAM,
    Consumer,
    StreamSettings,
    Subscription,
    dead_letter_stream,
    service_stream,
)
from keel_runtime.events import consumer as consumer_module
from keel_runtime.settings import SettingsError, load


def test_default_is_one_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NATS_STREAM_REPLICAS", raising=False)
    streams = load(StreamSettings.from_env)
    assert streams.replicas == 1
    assert streams.service_stream("ledger") == service_stream("ledger")
    assert streams.dead_letter_stream() == DEAD_LETTER_STREAM


def test_replicas_reach_the_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "3")
    streams = load(StreamSettings.from_env)
    spec = streams.service_stream("ledger")
    dlq = streams.dead_letter_stream()
    assert (spec.name, spec.subjects, spec.replicas) == ("LEDGER", ["ledger.>"], 3)
    assert (dlq.name, dlq.subjects, dlq.replicas) == ("DLQ", ["dlq.>"], 3)
    assert spec.config().num_replicas == dlq.config().num_replicas == 3
    # The shared default is not changed by building a replicated copy.
    assert DEAD_LETTER_STREAM.replicas == 1 and dead_letter_stream().replicas == 1


@pytest.mark.parametrize("raw", ["0", "6", "three"])
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("NATS_STREAM_REPLICAS", raw)
    with pytest.raises(SettingsError, match="NATS_STREAM_REPLICAS"):
        load(StreamSettings.from_env)


async def test_consumer_declares_its_dead_letter_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    declared: list[Any] = []

    async def ensure_stream(js: object, spec: object) -> None:
        declared.append(spec)

    class _Js:
        buckets: list[KeyValueConfig] = []

        async def key_value(self, bucket: str) -> None:
            raise BucketNotFoundError

        async def create_key_value(self, config: KeyValueConfig) -> None:
            self.buckets.append(config)

        async def consumer_info(self, stream: str, consumer: str) -> None:
            raise NotFoundError

        async def add_consumer(self, stream: str, config: object) -> None:
            return None

    async def handler(conn: Any, envelope: Any) -> None:
        return None

    monkeypatch.setattr(consumer_module, "ensure_stream", ensure_stream)
    sub = Subscription(consumer="c", stream="LEDGER", filter_subject="ledger.>", handler=handler)
    dlq = StreamSettings(replicas=3).dead_letter_stream()
    js = _Js()
    await Consumer(None, js, sub, dead_letter_stream=dlq).ensure()  # type: ignore[arg-type]
    assert declared == [dlq]
    # The failed-attempt records are as replicated as the dead letters.
    assert [(b.bucket, b.replicas) for b in js.buckets] == [("KEEL_CONSUMER_ATTEMPTS", 3)]
