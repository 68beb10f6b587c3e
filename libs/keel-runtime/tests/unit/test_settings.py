"""Environment settings: typed values, and errors that name the variable and the problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from keel_runtime.settings import (
    ServerSettings,
    SettingsError,
    env_bool,
    env_choice,
    env_float,
    env_hostport,
    env_int,
    env_str,
    env_url,
    load,
)
from keel_runtime.tls import TlsSettings


def test_server_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRPC_BIND", "0.0.0.0:50051")
    monkeypatch.setenv("GRPC_GRACE_SECONDS", "2.5")
    monkeypatch.setenv("GRPC_MAX_CONCURRENT_RPCS", "32")
    settings = ServerSettings.from_env()
    assert settings == ServerSettings(
        bind="0.0.0.0:50051", grace_seconds=2.5, max_concurrent_rpcs=32
    )


def test_metrics_bind_is_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRPC_BIND", "127.0.0.1:50051")
    monkeypatch.delenv("METRICS_BIND", raising=False)
    assert ServerSettings.from_env().metrics_bind is None
    monkeypatch.setenv("METRICS_BIND", "0.0.0.0:9464")
    assert ServerSettings.from_env().metrics_bind == "0.0.0.0:9464"
    monkeypatch.setenv("METRICS_BIND", "9464")
    with pytest.raises(SettingsError, match=r"^METRICS_BIND: expected host:port, got '9464'$"):
        ServerSettings.from_env()


def test_tls_is_all_three_files_or_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRPC_BIND", "127.0.0.1:50051")
    for name in ("TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert ServerSettings.from_env().tls is None  # plaintext, and nobody is a workload
    for name in ("cert", "key", "ca"):
        (tmp_path / name).write_text("pem")
    monkeypatch.setenv("TLS_CERT_FILE", str(tmp_path / "cert"))
    with pytest.raises(SettingsError, match="TLS_KEY_FILE: required when any of TLS_"):
        ServerSettings.from_env()
    monkeypatch.setenv("TLS_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("TLS_CA_FILE", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="TLS_CA_FILE: no such file"):
        ServerSettings.from_env()
    monkeypatch.setenv("TLS_CA_FILE", str(tmp_path / "ca"))
    assert ServerSettings.from_env().tls == TlsSettings(
        tmp_path / "cert", tmp_path / "key", tmp_path / "ca"
    )


def test_bind_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRPC_BIND", raising=False)
    with pytest.raises(SettingsError, match=r"^GRPC_BIND: required but not set$"):
        ServerSettings.from_env()


@pytest.mark.parametrize("value", ["abc", "host:", ":50051", "host:port", "host:70000"])
def test_malformed_bind_names_variable_and_value(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GRPC_BIND", value)
    with pytest.raises(SettingsError) as caught:
        ServerSettings.from_env()
    assert str(caught.value) == f"GRPC_BIND: expected host:port, got {value!r}"


def test_ipv6_bind_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRPC_BIND", "[::]:50051")
    assert env_hostport("GRPC_BIND") == "[::]:50051"


def test_numbers_are_parsed_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKERS", "eight")
    with pytest.raises(SettingsError, match=r"^WORKERS: expected an integer, got 'eight'$"):
        env_int("WORKERS")
    monkeypatch.setenv("WORKERS", "0")
    with pytest.raises(SettingsError, match=r"^WORKERS: must be >= 1, got 0$"):
        env_int("WORKERS", min=1)
    monkeypatch.setenv("RATIO", "nan")
    with pytest.raises(SettingsError, match="RATIO: expected a finite number"):
        env_float("RATIO")
    monkeypatch.delenv("ABSENT", raising=False)
    assert env_int("ABSENT", 7) == 7
    assert env_float("ABSENT", 0.5) == 0.5


def test_bool_and_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG", "Yes")
    assert env_bool("FLAG") is True
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(SettingsError, match=r"^FLAG: expected true/false"):
        env_bool("FLAG")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError, match=r"^LOG_LEVEL: expected one of DEBUG, INFO"):
        env_choice("LOG_LEVEL", ("DEBUG", "INFO"))


def test_blank_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAME", "   ")
    assert env_str("NAME", "fallback") == "fallback"
    with pytest.raises(SettingsError, match=r"^NAME: required but not set$"):
        env_str("NAME")


def test_url_scheme_is_checked_without_echoing_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://app:hunter2@db/keel")
    with pytest.raises(SettingsError) as caught:
        env_url("DATABASE_URL", schemes=("postgresql",))
    assert str(caught.value) == "DATABASE_URL: expected a postgresql URL, got 'mysql'"
    assert "hunter2" not in str(caught.value)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app:hunter2@db:5432/keel")
    assert env_url("DATABASE_URL", schemes=("postgresql",)).startswith("postgresql+psycopg://")
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:notaport")
    with pytest.raises(SettingsError, match=r"^NATS_URL: expected a URL, got a malformed value$"):
        env_url("NATS_URL", schemes=("nats",))


@dataclass(frozen=True)
class LedgerConfig:
    server: ServerSettings
    database_url: str
    nats_url: str

    @classmethod
    def from_env(cls) -> LedgerConfig:
        return cls(
            server=ServerSettings.from_env(),
            database_url=env_url("DATABASE_URL", schemes=("postgresql",)),
            nats_url=env_url("NATS_URL", "nats://127.0.0.1:4222", schemes=("nats",)),
        )


def test_load_reports_every_problem_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRPC_BIND", "abc")
    monkeypatch.setenv("GRPC_GRACE_SECONDS", "-1")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(SettingsError) as caught:
        load(LedgerConfig.from_env)
    assert caught.value.problems == [
        "GRPC_BIND: expected host:port, got 'abc'",
        "GRPC_GRACE_SECONDS: must be >= 0.0, got -1.0",
        "DATABASE_URL: required but not set",
    ]


def test_load_returns_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRPC_BIND", "127.0.0.1:0")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1/keel_ledger")
    monkeypatch.delenv("NATS_URL", raising=False)
    config = load(LedgerConfig.from_env)
    assert config.server.bind == "127.0.0.1:0"
    assert config.nats_url == "nats://127.0.0.1:4222"
