"""Settings: the dunning schedule, the webhook allowlist."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing.config import Config, parse_schedule


def test_schedule_parses_durations() -> None:
    assert parse_schedule("1d,3d,5d") == tuple(timedelta(days=d) for d in (1, 3, 5))
    assert parse_schedule(" 90s , 2h ") == (timedelta(seconds=90), timedelta(hours=2))


@pytest.mark.parametrize("text", ["", "3d,1d", "1d,1d", "0s", "5", "1w", "1d;3d"])
def test_schedule_refuses_what_it_cannot_mean(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)


def test_allowed_hosts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRPC_BIND", "127.0.0.1:0")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("NATS_URL", "nats://h:4222")
    monkeypatch.setenv("LEDGER_TARGET", "h:1")
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", " 127.0.0.1, localhost ,")
    assert Config.from_env().webhook_allowed_hosts == ("127.0.0.1", "localhost")
    monkeypatch.delenv("WEBHOOK_ALLOWED_HOSTS")
    assert Config.from_env().webhook_allowed_hosts == ()
