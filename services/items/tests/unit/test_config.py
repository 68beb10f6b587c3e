"""Settings of the items service from the environment."""

from __future__ import annotations

import pytest

from items.config import ItemsConfig
from keel_runtime.settings import SettingsError, load


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/keel_items")
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222")
    for name in (
        "ITEMS_ENRICHMENT_BACKOFF_SECONDS",
        "ITEMS_EVENT_NAMESPACE",
        "ITEMS_ENRICHMENT_MAX_ATTEMPTS",
    ):
        monkeypatch.delenv(name, raising=False)
    config = load(ItemsConfig.from_env)
    assert (
        config.enrichment_max_attempts,
        config.enrichment_backoff_s,
        config.event_namespace,
    ) == (
        5,
        (1.0, 5.0, 30.0),
        "items",
    )


def test_problems_name_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("NATS_URL", "http://nope")
    monkeypatch.setenv("ITEMS_ENRICHMENT_MAX_ATTEMPTS", "0")
    with pytest.raises(SettingsError) as raised:
        load(ItemsConfig.from_env)
    text = str(raised.value)
    assert "DATABASE_URL" in text and "NATS_URL" in text and "ITEMS_ENRICHMENT_MAX_ATTEMPTS" in text


@pytest.mark.parametrize("raw", ["a,b", "-1", ","])
def test_bad_backoff(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/keel_items")
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222")
    monkeypatch.setenv("ITEMS_ENRICHMENT_BACKOFF_SECONDS", raw)
    with pytest.raises(SettingsError, match="ITEMS_ENRICHMENT_BACKOFF_SECONDS"):
        load(ItemsConfig.from_env)
