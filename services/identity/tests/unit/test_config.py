"""Identity's own settings: trusted proxies and the login throttle."""

from __future__ import annotations

import pytest

from identity.config import IdentityConfig
from keel_runtime.settings import SettingsError

DATABASE_URL = "postgresql://db/keel_identity"


def test_config_refuses_a_malformed_trusted_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, gateway.local")

    with pytest.raises(SettingsError, match=r"TRUSTED_PROXIES.*gateway\.local"):
        IdentityConfig.from_env()


def test_config_reads_the_login_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("LOGIN_FREE_FAILURES", "3")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,::1")

    config = IdentityConfig.from_env()

    assert config.login_throttle.free_failures == 3
    assert config.login_throttle.max_delay_seconds == 900
    assert config.trusted_proxies == ("10.0.0.0/8", "::1")
