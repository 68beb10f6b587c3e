"""The settings every service reads the same way (``keel_runtime.service.ServiceConfig``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from keel_runtime.events import StreamSettings
from keel_runtime.service import ServiceConfig
from keel_runtime.settings import SettingsError, load

DATABASE_URL = "postgresql://db/keel_things"


@dataclass(frozen=True, kw_only=True)
class ThingsConfig(ServiceConfig):
    colour: str = "blue"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NATS_URL", "NATS_STREAM_REPLICAS", "OUTBOX_POLL_INTERVAL_SECONDS", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)


def test_a_service_reads_the_shared_settings_and_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222")
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "3")
    monkeypatch.setenv("OUTBOX_POLL_INTERVAL_SECONDS", "0.5")
    config = load(lambda: ThingsConfig.read_env(colour="green"))
    assert config == ThingsConfig(
        database_url=DATABASE_URL,
        nats_url="nats://127.0.0.1:4222",
        streams=StreamSettings(replicas=3),
        outbox_poll_interval_s=0.5,
        colour="green",
    )


def test_nats_is_required_unless_the_service_says_otherwise() -> None:
    with pytest.raises(SettingsError, match="NATS_URL"):
        load(ThingsConfig.read_env)
    assert load(lambda: ThingsConfig.read_env(nats_required=False)).nats_url is None


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://db/things")
    monkeypatch.setenv("NATS_STREAM_REPLICAS", "9")
    with pytest.raises(SettingsError) as raised:
        load(ThingsConfig.read_env)
    assert [p.split(":")[0] for p in raised.value.problems] == [
        "NATS_URL",
        "DATABASE_URL",
        "NATS_STREAM_REPLICAS",
    ]
