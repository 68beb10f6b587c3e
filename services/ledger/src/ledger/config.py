"""Ledger settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from keel_runtime.events import StreamSettings
from keel_runtime.settings import (
    SettingsError,
    env_float,
    env_int,
    env_str,
    env_url,
    load,
    tls_from_env,
)
from keel_runtime.tls import TlsSettings
from ledger.domain.checkpoint import CheckpointKey


@dataclass(frozen=True, slots=True)
class Config:
    database_url: str
    """The ledger's own database (``DATABASE_URL``)."""
    nats_url: str
    """JetStream for the outbox relay and the sign-up consumer (``NATS_URL``)."""
    tls: TlsSettings | None = None
    """This workload's certificate (``TLS_CERT_FILE``, ``TLS_KEY_FILE``, ``TLS_CA_FILE``), the
    one its gRPC server uses; presented to a ``tls://`` NATS_URL (see keel_runtime.events)."""
    streams: StreamSettings = field(default_factory=StreamSettings)
    """Replicas of the streams and DLQ the ledger declares (``NATS_STREAM_REPLICAS``)."""
    expiry_interval_s: float = 1.0
    """How often expired holds are released (``LEDGER_EXPIRY_INTERVAL_SECONDS``)."""
    group_commit_max: int = 64
    """Most CreateTransaction requests committed together (``LEDGER_GROUP_COMMIT_MAX``);
    1 commits each request on its own."""
    checkpoint_key: CheckpointKey | None = None
    """MAC key of the chain-head checkpoints (``LEDGER_CHECKPOINT_KEY``, base64 of at least 32
    bytes); never stored in the database. Unset: a random key for this process only, a
    development default (see the README)."""
    checkpoint_interval_s: float = 60.0
    """How often the chain heads are checkpointed (``LEDGER_CHECKPOINT_INTERVAL_SECONDS``)."""
    log_level: str = "INFO"
    """``LOG_LEVEL``."""

    @classmethod
    def from_env(cls) -> Config:
        return load(
            lambda: cls(
                database_url=env_url("DATABASE_URL", schemes=("postgresql", "postgres")),
                nats_url=env_url("NATS_URL", schemes=("nats", "tls")),
                tls=tls_from_env(),
                streams=StreamSettings.from_env(),
                expiry_interval_s=env_float(
                    "LEDGER_EXPIRY_INTERVAL_SECONDS", 1.0, min=0.05, max=3600.0
                ),
                group_commit_max=env_int("LEDGER_GROUP_COMMIT_MAX", 64, min=1, max=1000),
                checkpoint_key=_checkpoint_key(),
                checkpoint_interval_s=env_float(
                    "LEDGER_CHECKPOINT_INTERVAL_SECONDS", 60.0, min=1.0, max=86400.0
                ),
                log_level=env_str("LOG_LEVEL", "INFO"),
            )
        )


def _checkpoint_key() -> CheckpointKey | None:
    text = env_str("LEDGER_CHECKPOINT_KEY", "")
    if not text:
        return None
    try:
        return CheckpointKey.from_base64(text)
    except ValueError as exc:
        # The reason only: the value is a secret and must not reach the logs.
        raise SettingsError([f"LEDGER_CHECKPOINT_KEY: {exc}"]) from None
