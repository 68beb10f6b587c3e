"""Billing settings, read once from the environment."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import timedelta

from billing.domain.invoice import DEFAULT_RETRY_SCHEDULE
from keel_runtime.service import ServiceConfig
from keel_runtime.settings import SettingsError, env_float, env_hostport, env_str, load

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_schedule(text: str) -> tuple[timedelta, ...]:
    """Parse e.g. "1d,3d,5d" (units s, m, h, d): increasing delays after the first failure."""
    delays = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", part)
        if match is None:
            raise ValueError(f"{part.strip()!r} is not a duration like 3d, 12h, 30m or 90s")
        delays.append(timedelta(seconds=int(match[1]) * _UNITS[match[2]]))
    if delays[0] <= timedelta(0) or any(b <= a for a, b in itertools.pairwise(delays)):
        raise ValueError("delays must be positive and increasing")
    return tuple(delays)


def _schedule_from_env(name: str) -> tuple[timedelta, ...]:
    text = env_str(name, "")
    if not text:
        return DEFAULT_RETRY_SCHEDULE
    try:
        return parse_schedule(text)
    except ValueError as exc:
        raise SettingsError([f"{name}: {exc}"]) from None


DEFAULT_PLATFORM_ORG_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, kw_only=True)
class Config(ServiceConfig):
    ledger_target: str
    """Ledger gRPC ``host:port`` (``LEDGER_TARGET``)."""
    ledger_timeout_s: float = 2.0
    """Deadline of each ledger call (``LEDGER_TIMEOUT_SECONDS``)."""
    revenue_account_id: str = ""
    """Ledger account credited by invoice payments (``BILLING_REVENUE_ACCOUNT_ID``); empty:
    billing opens one per currency under the platform organization on first payment."""
    platform_org_id: str = DEFAULT_PLATFORM_ORG_ID
    """Organization owning the revenue accounts (``BILLING_PLATFORM_ORG_ID``)."""
    close_interval_s: float = 30.0
    """How often ended billing periods are closed and collected
    (``BILLING_CLOSE_INTERVAL_SECONDS``)."""
    reconcile_interval_s: float = 60.0
    """How often invoice payments are reconciled with the ledger
    (``BILLING_RECONCILE_INTERVAL_SECONDS``)."""
    dunning_schedule: tuple[timedelta, ...] = DEFAULT_RETRY_SCHEDULE
    """Retries of a failed collection, after the first failure (``BILLING_DUNNING_SCHEDULE``,
    default ``1d,3d,5d``); after the last the invoice is UNCOLLECTIBLE."""
    dunning_interval_s: float = 60.0
    """How often due retries are made (``BILLING_DUNNING_INTERVAL_SECONDS``)."""
    webhook_allowed_hosts: tuple[str, ...] = ()
    """Hosts webhooks may reach although they are (or resolve to) loopback or private
    addresses, over plain http too (``WEBHOOK_ALLOWED_HOSTS``, comma-separated; local
    development only). Empty: none."""

    @classmethod
    def from_env(cls) -> Config:
        return load(
            lambda: cls.read_env(
                ledger_target=env_hostport("LEDGER_TARGET"),
                ledger_timeout_s=env_float("LEDGER_TIMEOUT_SECONDS", 2.0, min=0.05, max=60.0),
                revenue_account_id=env_str("BILLING_REVENUE_ACCOUNT_ID", ""),
                platform_org_id=env_str("BILLING_PLATFORM_ORG_ID", DEFAULT_PLATFORM_ORG_ID),
                close_interval_s=env_float(
                    "BILLING_CLOSE_INTERVAL_SECONDS", 30.0, min=0.1, max=86400.0
                ),
                reconcile_interval_s=env_float(
                    "BILLING_RECONCILE_INTERVAL_SECONDS", 60.0, min=0.1, max=86400.0
                ),
                dunning_schedule=_schedule_from_env("BILLING_DUNNING_SCHEDULE"),
                dunning_interval_s=env_float(
                    "BILLING_DUNNING_INTERVAL_SECONDS", 60.0, min=0.1, max=86400.0
                ),
                webhook_allowed_hosts=tuple(
                    h.strip() for h in env_str("WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip()
                ),
            )
        )
