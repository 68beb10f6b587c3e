"""Typed settings of the items service, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from keel_runtime.service import ServiceConfig
from keel_runtime.settings import SettingsError, env_float, env_int, env_str


def _delays(raw: str) -> tuple[float, ...]:
    problem = f"ITEMS_ENRICHMENT_BACKOFF_SECONDS: expected comma-separated seconds, got {raw!r}"
    try:
        delays = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise SettingsError([problem]) from None
    if not delays or any(not 0 <= d < 86_400 for d in delays):
        raise SettingsError([problem])
    return delays


@dataclass(frozen=True, kw_only=True)
class ItemsConfig(ServiceConfig):
    enrichment_provider: str = "local"
    """Provider name (``ITEMS_ENRICHMENT_PROVIDER``); ``local`` is deterministic and offline."""
    enrichment_max_attempts: int = 5
    """Attempts before an item is FAILED (``ITEMS_ENRICHMENT_MAX_ATTEMPTS``)."""
    enrichment_backoff_s: tuple[float, ...] = (1.0, 5.0, 30.0)
    """Delays between attempts, the last repeating (``ITEMS_ENRICHMENT_BACKOFF_SECONDS``,
    e.g. "1,5,30")."""
    enrichment_timeout_s: float = 20.0
    """Per-attempt provider timeout (``ITEMS_ENRICHMENT_TIMEOUT_SECONDS``)."""
    event_namespace: str = "items"
    """Event type prefix and stream (ITEMS); only tests change it (``ITEMS_EVENT_NAMESPACE``)."""

    @classmethod
    def from_env(cls) -> ItemsConfig:
        return cls.read_env(
            enrichment_provider=env_str("ITEMS_ENRICHMENT_PROVIDER", "local"),
            enrichment_max_attempts=env_int("ITEMS_ENRICHMENT_MAX_ATTEMPTS", 5, min=1, max=50),
            enrichment_backoff_s=_delays(env_str("ITEMS_ENRICHMENT_BACKOFF_SECONDS", "1,5,30")),
            enrichment_timeout_s=env_float("ITEMS_ENRICHMENT_TIMEOUT_SECONDS", 20.0, min=0.1),
            event_namespace=env_str("ITEMS_EVENT_NAMESPACE", "items"),
        )
