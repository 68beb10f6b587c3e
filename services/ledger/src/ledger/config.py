"""Ledger settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from keel_runtime.service import ServiceConfig
from keel_runtime.settings import SettingsError, env_float, env_int, env_str, load
from ledger.domain.checkpoint import CheckpointKey


@dataclass(frozen=True, kw_only=True)
class Config(ServiceConfig):
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

    @classmethod
    def from_env(cls) -> Config:
        return load(
            lambda: cls.read_env(
                expiry_interval_s=env_float(
                    "LEDGER_EXPIRY_INTERVAL_SECONDS", 1.0, min=0.05, max=3600.0
                ),
                group_commit_max=env_int("LEDGER_GROUP_COMMIT_MAX", 64, min=1, max=1000),
                checkpoint_key=_checkpoint_key(),
                checkpoint_interval_s=env_float(
                    "LEDGER_CHECKPOINT_INTERVAL_SECONDS", 60.0, min=1.0, max=86400.0
                ),
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
